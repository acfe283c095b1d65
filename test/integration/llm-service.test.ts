import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppException } from '../../src/common/errors/app.exception.js';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { loadConfig } from '../../src/config/app-config.js';
import { LlmService } from '../../src/llm/llm.service.js';
import { ProviderFailure, type GenerateRequest } from '../../src/llm/llm.types.js';
import { FAKE_ANTHROPIC_REPLY, FAKE_MARKERS, fakeMarker, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { FAKE_OPENAI_REPLY, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { abortAfterDeltas, collect, llmRequest, textOf } from '../support/llm.js';

const API_KEY = 'sk-ant-test-secret-key-0123456789';


describe(LlmService.name, () => {
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAi;
  let sut: LlmService;
  let logLines: string[];

  const request = (overrides: Partial<GenerateRequest> = {}) => llmRequest('claude-sonnet-5', overrides);

  beforeAll(async () => {
    [anthropic, openai] = await Promise.all([startFakeAnthropic(), startFakeOpenAi()]);
    const config = loadConfig({
      ANTHROPIC_API_KEY: API_KEY,
      ANTHROPIC_BASE_URL: anthropic.url,
      OPENAI_BASE_URL: `${openai.url}/v1`,
      MODELS: 'anthropic=claude-sonnet-5,claude-haiku-4-5;openai=llama3.2',
      ECHO_DELAY_MS: '0',
    });
    logLines = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    sut = new LlmService(config, pino({ level: 'debug' }, sink));
  });
  afterAll(async () => {
    await Promise.all([anthropic.close(), openai.close()]);
  });
  beforeEach(() => {
    anthropic.reset();
    openai.reset();
    logLines.length = 0;
  });

  it('lists the configured models with the default flagged', () => {
    expect(sut.listModels()).toEqual([
      { id: 'claude-sonnet-5', provider: 'anthropic', default: true },
      { id: 'claude-haiku-4-5', provider: 'anthropic', default: false },
      { id: 'llama3.2', provider: 'openai', default: false },
      { id: 'echo', provider: 'echo', default: false },
    ]);
  });

  it('routes each model to its provider', async () => {
    const claude = await collect(sut.stream(request({ model: 'claude-haiku-4-5' })));
    const llama = await collect(sut.stream(request({ model: 'llama3.2' })));
    const echo = await collect(sut.stream(request({ model: 'echo', messages: [{ role: 'user', content: 'echo me' }] })));

    expect(textOf(claude.events)).toBe(FAKE_ANTHROPIC_REPLY);
    expect(textOf(llama.events)).toBe(FAKE_OPENAI_REPLY);
    expect(textOf(echo.events)).toBe('echo me');
    expect(anthropic.requests.map((r) => (r.body as { model: string }).model)).toEqual(['claude-haiku-4-5']);
    expect(openai.requests.map((r) => (r.body as { model: string }).model)).toEqual(['llama3.2']);
  });

  it('refuses an unknown model with UNKNOWN_MODEL', async () => {
    const { error } = await collect(sut.stream(request({ model: 'gpt-9' })));

    expect(error).toBeInstanceOf(AppException);
    expect((error as AppException).code).toBe(ErrorCode.UNKNOWN_MODEL);
    expect(anthropic.requests).toHaveLength(0);
  });

  it('succeeds after a 429 (retried before the stream starts)', async () => {
    anthropic.enqueue(FAKE_MARKERS['429']);
    const { events, error } = await collect(sut.stream(request()));

    expect(error).toBeUndefined();
    expect(textOf(events)).toBe(FAKE_ANTHROPIC_REPLY);
    expect(anthropic.requests).toHaveLength(2);
  });

  it('retries an in-stream overloaded error that came before the first delta, without logging the key', async () => {
    anthropic.enqueue(FAKE_MARKERS['overloaded-early']);
    const { events, error } = await collect(sut.stream(request()));

    expect(error).toBeUndefined();
    expect(textOf(events)).toBe(FAKE_ANTHROPIC_REPLY);
    expect(events.filter((e) => e.type === 'done')).toHaveLength(1);
    expect(anthropic.requests).toHaveLength(2);
    expect(logLines.join('')).toContain('retrying');
    expect(logLines.join('')).not.toContain(API_KEY);
  });

  it('gives up after two extra attempts', async () => {
    anthropic.defaultScenario = FAKE_MARKERS['overloaded-early'];
    try {
      const { events, error } = await collect(sut.stream(request()));

      expect(events).toEqual([]);
      expect(error).toBeInstanceOf(ProviderFailure);
      expect(error).toMatchObject({ code: ErrorCode.PROVIDER_OVERLOADED, retryable: true });
      expect(anthropic.requests).toHaveLength(3);
    } finally {
      anthropic.defaultScenario = FAKE_MARKERS.default;
    }
  });

  it.each([
    ['dropped', 'drop', ErrorCode.PROVIDER_ERROR],
    ['overloaded', 'overloaded', ErrorCode.PROVIDER_OVERLOADED],
  ] as const)('does not retry once a delta was yielded (connection %s after 2 deltas)', async (_what, marker, code) => {
    const { events, error } = await collect(sut.stream(request({ messages: [{ role: 'user', content: `hi ${fakeMarker(marker)}` }] })));

    expect(events.map((e) => e.type)).toEqual(['delta', 'delta']);
    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code });
    expect(anthropic.requests).toHaveLength(1);
  });

  it('does not retry again what the SDK already retried (a persistent 529 is 3 requests, not 9)', async () => {
    anthropic.enqueue(FAKE_MARKERS['529'], FAKE_MARKERS['529'], FAKE_MARKERS['529'], FAKE_MARKERS['529']);
    const { events, error } = await collect(sut.stream(request()));
    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER_OVERLOADED, retryable: true, retriedBySdk: true });
    expect(anthropic.requests.length).toBe(3);
  });

  it('stops waiting to retry as soon as the signal fires', async () => {
    anthropic.enqueue(FAKE_MARKERS['overloaded-early']);
    const controller = new AbortController();
    const consuming = collect(sut.stream(request({ signal: controller.signal })));
    await anthropic.waitForClose(0);
    controller.abort();

    const { events, error } = await consuming;
    expect(events).toEqual([]);
    expect((error as Error).name).toBe('AbortError');
    expect(error).not.toBeInstanceOf(ProviderFailure);
    expect(anthropic.requests).toHaveLength(1);
  });

  it('on abort mid-stream, closes the upstream connection', async () => {
    const { caught, abortedAt } = await abortAfterDeltas(
      (signal) => sut.stream(request({ signal, messages: [{ role: 'user', content: fakeMarker('long') }] })),
      3,
    );

    expect((caught as Error).name).toBe('AbortError');
    const upstream = await anthropic.waitForClose(0, 1_000);
    expect(upstream.closedByClient).toBe(true);
    expect(upstream.closedAt! - abortedAt).toBeLessThanOrEqual(200);
    expect(anthropic.requests).toHaveLength(1);
  });

  it('clamps max tokens to the model limit', async () => {
    await collect(sut.stream(request({ maxTokens: 1_000_000 })));

    expect((anthropic.requests[0].body as { max_tokens: number }).max_tokens).toBe(sut.resolveModel('claude-sonnet-5').maxOutputTokens);
  });
});
