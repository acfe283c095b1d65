import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { fakeAnthropicEnv, fakeMarker, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

const deltasOf = (frames: SseFrame[]) => frames.filter((f) => f.event === 'assistant_delta').map((f) => f.data.delta).join('');

// An upstream that hangs before its first byte, or goes silent mid-stream, is given up after
// PROVIDER_FIRST_BYTE_TIMEOUT_MS / PROVIDER_IDLE_TIMEOUT_MS: the answer ends with PROVIDER_ERROR,
// the upstream request is closed, and the message is stored as an error with what it had.
describe('provider timeouts', () => {
  let t: TestApp;
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAi;
  let db: pg.Client;

  beforeAll(async () => {
    anthropic = await startFakeAnthropic();
    openai = await startFakeOpenAi();
    t = await startTestApp({
      env: {
        ...fakeAnthropicEnv(anthropic),
        OPENAI_BASE_URL: `${openai.url}/v1`,
        MODELS: 'anthropic=claude-sonnet-5;openai=llama3.2',
        PROVIDER_FIRST_BYTE_TIMEOUT_MS: '600',
        PROVIDER_IDLE_TIMEOUT_MS: '600',
        ANON_MESSAGE_LIMIT: '1000',
        ANON_IP_MESSAGE_LIMIT: '1000',
      },
    });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    await anthropic?.close();
    await openai?.close();
  });
  beforeEach(() => {
    anthropic.reset();
    openai.reset();
  });

  const stored = async (id: string) => (await db.query('SELECT status, content, error_code FROM messages WHERE id = $1', [id])).rows[0];

  for (const model of ['claude-sonnet-5', 'llama3.2']) {
    const fake = () => (model === 'llama3.2' ? openai : anthropic);

    it(`${model}: an upstream that never answers ends with PROVIDER_ERROR after the first-byte timeout`, async () => {
      const started = Date.now();
      const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { model, content: `hang ${fakeMarker('hang')}` }, { 'x-anon-id': crypto.randomUUID() })).all();
      const elapsed = Date.now() - started;
      expect(frames.map((f) => f.event)).toEqual(['assistant_typing', 'assistant_error', 'usage_info']);
      expect(frames[1].data).toMatchObject({ code: 'PROVIDER_ERROR', retryable: true });
      expect(elapsed).toBeGreaterThanOrEqual(550);
      // Not retried: one upstream request, closed by the app.
      expect(fake().requests).toHaveLength(1);
      expect((await fake().waitForClose(0)).closedByClient).toBe(true);
      expect(await stored(frames[0].data.message_id)).toEqual({ status: 'error', content: '', error_code: 'PROVIDER_ERROR' });
    });

    it(`${model}: an upstream that goes silent mid-stream ends with PROVIDER_ERROR after the idle timeout, the text kept`, async () => {
      const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { model, content: `stall ${fakeMarker('stall')}` }, { 'x-anon-id': crypto.randomUUID() })).all();
      expect(frames.at(-2)!.event).toBe('assistant_error');
      expect(frames.at(-2)!.data).toMatchObject({ code: 'PROVIDER_ERROR' });
      const text = deltasOf(frames);
      expect(text.length).toBeGreaterThan(0);
      expect((await fake().waitForClose(0)).closedByClient).toBe(true);
      expect(await stored(frames[0].data.message_id)).toEqual({ status: 'error', content: text, error_code: 'PROVIDER_ERROR' });
    });
  }

  it('a slow but live upstream is not cut: the timeouts count silence, not the length of the answer', async () => {
    anthropic.enqueue({ kind: 'text', chunks: Array.from({ length: 8 }, (_, i) => `part${i} `), chunkDelayMs: 300 });
    const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'steady' }, { 'x-anon-id': crypto.randomUUID() })).all();
    expect(frames.at(-2)!.event).toBe('assistant_complete');
    expect(deltasOf(frames)).toBe(Array.from({ length: 8 }, (_, i) => `part${i} `).join(''));
  });
});
