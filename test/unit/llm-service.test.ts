import { describe, expect, it } from 'vitest';
import { AppException } from '../../src/common/errors/app.exception.js';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { loadConfig } from '../../src/config/app-config.js';
import { LlmService } from '../../src/llm/llm.service.js';
import type { ChatTurn } from '../../src/llm/llm.types.js';

const user = (content: string): ChatTurn => ({ role: 'user', content });
const assistant = (content: string): ChatTurn => ({ role: 'assistant', content });

describe(LlmService.name, () => {
  const logger = createLogger('silent');
  // Keys are only read here; no request is made in this file.
  const sut = new LlmService(
    loadConfig({ ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', MODELS: 'anthropic=claude-sonnet-5,claude-haiku-4-5' }),
    logger,
  );

  describe('resolveModel', () => {
    it('gives the default model when no id is given', () => {
      expect(sut.resolveModel().id).toBe('claude-sonnet-5');
      expect(sut.resolveModel('').id).toBe('claude-sonnet-5');
    });

    it('gives the named model', () => {
      expect(sut.resolveModel('claude-haiku-4-5')).toMatchObject({ id: 'claude-haiku-4-5', provider: 'anthropic' });
      expect(sut.resolveModel('echo')).toMatchObject({ id: 'echo', provider: 'echo' });
    });

    it('refuses a model that is not configured with UNKNOWN_MODEL', () => {
      let error: unknown;
      try {
        sut.resolveModel('llama3.2');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AppException);
      expect((error as AppException).code).toBe(ErrorCode.UNKNOWN_MODEL);
      expect((error as AppException).status).toBe(400);
    });

    it('defaults to echo, the only model, without provider keys', () => {
      const bare = new LlmService(loadConfig({}), logger);
      expect(bare.resolveModel().id).toBe('echo');
      expect(bare.listModels()).toEqual([{ id: 'echo', provider: 'echo', default: true }]);
    });
  });

  describe('estimateTokens', () => {
    it('counts about 4 characters per token', () => {
      expect(sut.estimateTokens('')).toBe(0);
      expect(sut.estimateTokens('abcd')).toBe(1);
      expect(sut.estimateTokens('abcde')).toBe(2);
      expect(sut.estimateTokens('x'.repeat(400))).toBe(100);
    });
  });

  describe('buildHistory', () => {
    // Each turn below costs 10 tokens: 24 characters (6 tokens) + 4 per turn.
    const t = (role: 'user' | 'assistant', n: number): ChatTurn => ({ role, content: `${role === 'user' ? 'question' : 'answer__'} ${String(n).padStart(15, '0')}` });
    const conversation = [t('user', 1), t('assistant', 1), t('user', 2), t('assistant', 2), t('user', 3), t('assistant', 3), t('user', 4)];

    it('keeps everything that fits', () => {
      expect(sut.buildHistory(conversation, 1_000)).toEqual(conversation);
    });

    it('drops the oldest turns first and starts with a user turn', () => {
      // 40 tokens fit 4 turns: [a2, u3, a3, u4]; the leading assistant turn goes too.
      expect(sut.buildHistory(conversation, 40)).toEqual([t('user', 3), t('assistant', 3), t('user', 4)]);
      expect(sut.buildHistory(conversation, 50)).toEqual([t('user', 2), t('assistant', 2), t('user', 3), t('assistant', 3), t('user', 4)]);
    });

    it('always keeps the last user turn, even alone over budget', () => {
      const long = user('x'.repeat(10_000));
      expect(sut.buildHistory([user('old'), assistant('reply'), long], 10)).toEqual([long]);
    });

    it('never keeps an older turn once a newer one did not fit', () => {
      const history = [user('short'), assistant('y'.repeat(400)), user('now')];
      expect(sut.buildHistory(history, 50)).toEqual([user('now')]);
    });

    it('ends with the last user turn and skips empty turns', () => {
      const history = [user('first'), assistant(''), user('second'), assistant('   '), user('third'), assistant('a stale answer')];
      expect(sut.buildHistory(history, 1_000)).toEqual([user('first'), user('second'), user('third')]);
    });

    it('gives nothing without a user turn', () => {
      expect(sut.buildHistory([assistant('hello')], 1_000)).toEqual([]);
      expect(sut.buildHistory([], 1_000)).toEqual([]);
    });
  });
});
