import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { createLogger } from '../../src/common/logging/logger.js';
import { AnthropicProvider } from '../../src/llm/anthropic.provider.js';
import { ProviderFailure, type GenerateRequest, type LlmEvent } from '../../src/llm/llm.types.js';
import { FAKE_ANTHROPIC_REPLY, FAKE_MARKERS, fakeMarker, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { abortAfterDeltas, collect, llmRequest, textOf } from '../support/llm.js';

const logger = createLogger('silent');

const request = (overrides: Partial<GenerateRequest> = {}) => llmRequest('claude-sonnet-5', overrides);

const deltas = (events: LlmEvent[]) => events.filter((e) => e.type === 'delta');

describe(AnthropicProvider.name, () => {
  let fake: FakeAnthropic;
  // No SDK retries, so that each failure maps from exactly one upstream answer.
  let sut: AnthropicProvider;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    sut = new AnthropicProvider({ apiKey: 'test-key', baseUrl: fake.url }, logger, { maxRetries: 0 });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('streams text deltas that join to the reply, then one done with usage and stop reason', async () => {
    const { events, error } = await collect(sut.stream(request({ system: 'Be brief.', temperature: 0.5 })));

    expect(error).toBeUndefined();
    expect(deltas(events).length).toBeGreaterThan(1);
    expect(textOf(events)).toBe(FAKE_ANTHROPIC_REPLY);
    expect(events.filter((e) => e.type === 'done')).toHaveLength(1);
    const done = events.at(-1);
    const sent = fake.requests[0].reply;
    expect(done).toEqual({ type: 'done', stopReason: 'end_turn', usage: { inputTokens: sent?.inputTokens, outputTokens: sent?.outputTokens } });
    expect(sent?.outputTokens).toBeGreaterThan(1);
  });

  it('sends the request the Messages API expects, with the key in x-api-key only', async () => {
    await collect(sut.stream(request({ system: 'Be brief.', temperature: 0.5 })));

    const { body, headers, path } = fake.requests[0];
    expect(path).toBe('/v1/messages');
    expect(body).toMatchObject({
      model: 'claude-sonnet-5',
      max_tokens: 256,
      system: 'Be brief.',
      temperature: 0.5,
      stream: true,
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    expect(headers['x-api-key']).toBe('test-key');
    expect(headers.authorization).toBeUndefined();
    expect(headers['anthropic-version']).toBeTruthy();
  });

  it('ignores pings, unknown event types and non-text blocks', async () => {
    fake.enqueue(FAKE_MARKERS.noise);
    const { events, error } = await collect(sut.stream(request()));

    expect(error).toBeUndefined();
    expect(textOf(events)).toBe(FAKE_ANTHROPIC_REPLY);
    expect(events.at(-1)).toMatchObject({ type: 'done', stopReason: 'end_turn' });
  });

  it('reports max_tokens when the upstream stops at the limit', async () => {
    const { events } = await collect(sut.stream(request({ maxTokens: 2 })));

    expect(textOf(events)).toBe(FAKE_ANTHROPIC_REPLY.slice(0, 8));
    expect(events.at(-1)).toMatchObject({ type: 'done', stopReason: 'max_tokens', usage: { outputTokens: 2 } });
  });

  it('maps an in-stream overloaded_error to a retryable PROVIDER_OVERLOADED after the deltas sent so far', async () => {
    const { events, error } = await collect(sut.stream(request({ messages: [{ role: 'user', content: `go ${fakeMarker('overloaded')}` }] })));

    expect(deltas(events)).toHaveLength(2);
    expect(events.some((e) => e.type === 'done')).toBe(false);
    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER_OVERLOADED, retryable: true });
  });

  it.each([
    ['429', FAKE_MARKERS['429'], ErrorCode.PROVIDER_OVERLOADED, true],
    ['529', FAKE_MARKERS['529'], ErrorCode.PROVIDER_OVERLOADED, true],
    ['500', FAKE_MARKERS.error500, ErrorCode.PROVIDER_ERROR, true],
    ['400', { kind: 'http-error', status: 400 } as const, ErrorCode.PROVIDER_ERROR, false],
  ])('maps HTTP %s to %s (retryable: %s)', async (_status, scenario, code, retryable) => {
    fake.enqueue(scenario);
    const { events, error } = await collect(sut.stream(request()));

    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code, retryable });
    expect(fake.requests).toHaveLength(1);
  });

  it('maps a connection dropped mid-stream to a retryable PROVIDER_ERROR', async () => {
    fake.enqueue(FAKE_MARKERS.drop);
    const { events, error } = await collect(sut.stream(request()));

    expect(deltas(events)).toHaveLength(2);
    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER_ERROR, retryable: true });
  });

  it('maps an unreachable upstream to a retryable PROVIDER_ERROR', async () => {
    const closed = await startFakeAnthropic();
    await closed.close();
    const offline = new AnthropicProvider({ apiKey: 'test-key', baseUrl: closed.url }, logger, { maxRetries: 0 });

    const { error } = await collect(offline.stream(request()));

    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER_ERROR, retryable: true });
  });

  it('lets the SDK retry a 429 before the stream starts (maxRetries 2 by default)', async () => {
    const retrying = new AnthropicProvider({ apiKey: 'test-key', baseUrl: fake.url }, logger);
    fake.enqueue(FAKE_MARKERS['429']);

    const { events, error } = await collect(retrying.stream(request()));

    expect(error).toBeUndefined();
    expect(textOf(events)).toBe(FAKE_ANTHROPIC_REPLY);
    expect(fake.requests.map((r) => r.scenario?.kind)).toEqual(['http-error', 'text']);
  });

  it('on abort after the third delta, throws an AbortError and closes the upstream connection at once', async () => {
    fake.enqueue(FAKE_MARKERS.long);
    const { caught, seen, abortedAt } = await abortAfterDeltas((signal) => sut.stream(request({ signal })), 3);

    expect(caught).not.toBeInstanceOf(ProviderFailure);
    expect((caught as Error).name).toBe('AbortError');
    expect(seen).toBe(3);
    const upstream = await fake.waitForClose(0, 1_000);
    expect(upstream.finished).toBe(false);
    expect(upstream.closedByClient).toBe(true);
    expect(upstream.closedAt! - abortedAt).toBeLessThanOrEqual(200);
  });

  it('on abort while waiting for the first token, closes the upstream connection', async () => {
    fake.enqueue(FAKE_MARKERS.slow);
    const controller = new AbortController();
    const consuming = collect(sut.stream(request({ signal: controller.signal })));
    await fake.waitForRequest(0);
    controller.abort();

    const { events, error } = await consuming;
    expect(events).toEqual([]);
    expect((error as Error).name).toBe('AbortError');
    const upstream = await fake.waitForClose(0, 1_000);
    expect(upstream.closedByClient).toBe(true);
  });

  it('keeps a custom abort reason as the cause of the AbortError', async () => {
    const controller = new AbortController();
    const reason = new Error('stopped by user');
    controller.abort(reason);

    const { error } = await collect(sut.stream(request({ signal: controller.signal })));

    expect((error as Error).name).toBe('AbortError');
    expect((error as Error).cause).toBe(reason);
    expect(fake.requests).toHaveLength(0);
  });
});
