import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { ProviderFailure, type GenerateRequest } from '../../src/llm/llm.types.js';
import { OpenAiProvider } from '../../src/llm/openai.provider.js';
import { FAKE_OPENAI_MARKERS, FAKE_OPENAI_REPLY, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { abortAfterDeltas, collect, llmRequest, textOf } from '../support/llm.js';

const logger = createLogger('silent');

const request = (overrides: Partial<GenerateRequest> = {}) => llmRequest('llama3.2', overrides);


describe(OpenAiProvider.name, () => {
  let fake: FakeOpenAi;
  let sut: OpenAiProvider;

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    // No key: a local server. No SDK retries, so each failure maps from one upstream answer.
    sut = new OpenAiProvider({ baseUrl: `${fake.url}/v1` }, logger, { maxRetries: 0 });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('streams deltas that join to the reply, with the usage chunk and finish_reason mapped', async () => {
    const { events, error } = await collect(sut.stream(request({ system: 'Be brief.' })));

    expect(error).toBeUndefined();
    expect(events.filter((e) => e.type === 'delta').length).toBeGreaterThan(1);
    expect(textOf(events)).toBe(FAKE_OPENAI_REPLY);
    const sent = fake.requests[0].reply;
    expect(events.at(-1)).toEqual({ type: 'done', stopReason: 'end_turn', usage: { inputTokens: sent?.inputTokens, outputTokens: sent?.outputTokens } });
  });

  it('sends a streaming chat completion with usage requested, the system prompt first, and a placeholder key', async () => {
    await collect(sut.stream(request({ system: 'Be brief.' })));

    const { body, headers, path } = fake.requests[0];
    expect(path).toBe('/v1/chat/completions');
    expect(body).toMatchObject({
      model: 'llama3.2',
      max_tokens: 256,
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello.' },
      ],
    });
    expect(headers.authorization).toMatch(/^Bearer \S+$/);
  });

  it('maps finish_reason "length" to max_tokens', async () => {
    const { events } = await collect(sut.stream(request({ maxTokens: 2 })));

    expect(textOf(events)).toBe(FAKE_OPENAI_REPLY.slice(0, 8));
    expect(events.at(-1)).toMatchObject({ type: 'done', stopReason: 'max_tokens' });
  });

  it.each([
    ['429', FAKE_OPENAI_MARKERS['429'], ErrorCode.PROVIDER_OVERLOADED, true],
    ['503', FAKE_OPENAI_MARKERS['503'], ErrorCode.PROVIDER_OVERLOADED, true],
    ['500', FAKE_OPENAI_MARKERS.error500, ErrorCode.PROVIDER_ERROR, true],
    ['404', { kind: 'http-error', status: 404 } as const, ErrorCode.PROVIDER_ERROR, false],
  ])('maps HTTP %s to %s (retryable: %s)', async (_status, scenario, code, retryable) => {
    fake.enqueue(scenario);
    const { events, error } = await collect(sut.stream(request()));

    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code, retryable });
  });

  it('maps a connection dropped mid-stream to a retryable PROVIDER_ERROR', async () => {
    fake.enqueue(FAKE_OPENAI_MARKERS.drop);
    const { events, error } = await collect(sut.stream(request()));

    expect(events.filter((e) => e.type === 'delta')).toHaveLength(2);
    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER_ERROR, retryable: true });
  });

  it('on abort after the third delta, throws an AbortError and closes the upstream connection at once', async () => {
    fake.enqueue(FAKE_OPENAI_MARKERS.long);
    const { caught, seen, abortedAt } = await abortAfterDeltas((signal) => sut.stream(request({ signal })), 3);

    expect(caught).not.toBeInstanceOf(ProviderFailure);
    expect((caught as Error).name).toBe('AbortError');
    expect(seen).toBe(3);
    const upstream = await fake.waitForClose(0, 1_000);
    expect(upstream.closedByClient).toBe(true);
    expect(upstream.closedAt! - abortedAt).toBeLessThanOrEqual(200);
  });
});
