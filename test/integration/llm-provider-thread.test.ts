import { Writable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/common/errors/error-code.js';
import { loadConfig } from '../../src/config/app-config.js';
import { AnthropicProvider } from '../../src/llm/anthropic.provider.js';
import { LlmService } from '../../src/llm/llm.service.js';
import { ProviderFailure } from '../../src/llm/llm.types.js';
import { ProviderThread } from '../../src/llm/provider-thread.js';
import { FAKE_ANTHROPIC_REPLY, FAKE_LONG_CHUNKS, fakeMarker, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { abortAfterDeltas, collect, llmRequest, textOf } from '../support/llm.js';

const API_KEY = 'sk-ant-test-secret-key-0123456789';

// The real SDK on the thread, against the local server that speaks Anthropic's wire format.
describe(ProviderThread.name, () => {
  let fake: FakeAnthropic;
  let thread: ProviderThread;
  let logLines: string[];
  const ask = (marker: Parameters<typeof fakeMarker>[0], signal = new AbortController().signal) =>
    thread.provider('anthropic').stream(llmRequest('claude-sonnet-5', { messages: [{ role: 'user', content: `Hi ${fakeMarker(marker)}` }], signal }));

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    logLines = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    thread = new ProviderThread({ anthropic: { apiKey: API_KEY, baseUrl: fake.url } }, pino({ level: 'debug' }, sink));
    await thread.ready();
  });
  afterAll(async () => {
    await thread.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    logLines.length = 0;
  });

  it('streams what the provider on the main thread streams: the same deltas and the same end', async () => {
    const local = new AnthropicProvider({ apiKey: API_KEY, baseUrl: fake.url }, pino({ level: 'silent' }));
    const threaded = await collect(ask('noise'));
    const inProcess = await collect(local.stream(llmRequest('claude-sonnet-5', { messages: [{ role: 'user', content: `Hi ${fakeMarker('noise')}` }] })));
    expect(threaded.error).toBeUndefined();
    expect(textOf(threaded.events)).toBe(FAKE_ANTHROPIC_REPLY);
    expect(threaded.events).toEqual(inProcess.events);
    expect(threaded.events.at(-1)).toMatchObject({ type: 'done', stopReason: 'end_turn' });
    // The request upstream is the SDK's, with the key in x-api-key.
    expect(fake.requests[0].headers['x-api-key']).toBe(API_KEY);
  });

  it('hands back the failure the provider mapped, with its code, retryability and cause', async () => {
    const { events, error } = await collect(ask('overloaded'));
    expect(textOf(events)).not.toBe('');
    expect(error).toBeInstanceOf(ProviderFailure);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER_OVERLOADED, retryable: true, retriedBySdk: false });
    expect((error as Error).cause).toMatchObject({ name: expect.stringMatching(/Error/) });

    const http = await collect(ask('error500'));
    expect(http.error).toMatchObject({ code: ErrorCode.PROVIDER_ERROR, retryable: true, retriedBySdk: true, message: 'The model provider answered with HTTP 500' });
    // Retried by the SDK on the thread: three requests upstream (after the overloaded one's).
    expect(fake.requests.filter((r) => JSON.stringify(r.body).includes(fakeMarker('error500')))).toHaveLength(3);
  });

  it('closes the upstream request when the caller aborts', async () => {
    const { caught, seen } = await abortAfterDeltas((signal) => ask('long', signal), 3);
    expect(seen).toBe(3);
    expect((caught as Error).name).toBe('AbortError');
    expect((await fake.waitForClose(0)).closedByClient).toBe(true);
  });

  it('fails the streams of a thread that died as retryable, and starts another for the next request', async () => {
    const running = collect(ask('long'));
    await fake.waitForRequest(0);
    const worker = (thread as unknown as { worker: Worker }).worker;
    await new Promise((resolve) => setTimeout(resolve, 100));
    await worker.terminate();
    const { events, error } = await running;
    expect(events.length).toBeLessThan(FAKE_LONG_CHUNKS.length);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER_ERROR, retryable: true });
    expect(logLines.join('')).toContain('the model providers thread stopped');

    const next = await collect(ask('default'));
    expect(next.error).toBeUndefined();
    expect(textOf(next.events)).toBe(FAKE_ANTHROPIC_REPLY);
  });

  it('ends a stream still open when it closes, and refuses new ones', async () => {
    const closing = new ProviderThread({ anthropic: { apiKey: API_KEY, baseUrl: fake.url } }, pino({ level: 'silent' }));
    await closing.ready();
    const open = collect(closing.provider('anthropic').stream(llmRequest('claude-sonnet-5', { messages: [{ role: 'user', content: `Hi ${fakeMarker('long')}` }] })));
    await fake.waitForRequest(0);
    await closing.close();
    const { events, error } = await open;
    expect(events.length).toBeLessThan(FAKE_LONG_CHUNKS.length);
    expect(error).toMatchObject({ code: ErrorCode.PROVIDER_ERROR, retryable: true, message: 'The server is shutting down' });

    const refused = await collect(closing.provider('anthropic').stream(llmRequest('claude-sonnet-5')));
    expect(refused.error).toMatchObject({ code: ErrorCode.PROVIDER_ERROR, retryable: true });
    await expect(closing.ready()).rejects.toMatchObject({ code: ErrorCode.PROVIDER_ERROR });
  });

  it('lets an abort end the wait for a thread that is still loading', async () => {
    const loading = new ProviderThread({ anthropic: { apiKey: API_KEY, baseUrl: fake.url } }, pino({ level: 'silent' }));
    const controller = new AbortController();
    const waiting = loading.ready(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await loading.close();
  });

  it('is what LlmService streams through by default; PROVIDER_THREAD=false keeps the SDK on the main thread', async () => {
    for (const [value, threaded] of [[undefined, true], ['false', false]] as const) {
      const config = loadConfig({ ANTHROPIC_API_KEY: API_KEY, ANTHROPIC_BASE_URL: fake.url, MODELS: 'anthropic=claude-sonnet-5', ...(value ? { PROVIDER_THREAD: value } : {}) });
      const service = new LlmService(config, pino({ level: 'silent' }));
      expect((service as unknown as { thread?: ProviderThread }).thread instanceof ProviderThread).toBe(threaded);
      const { events, error } = await collect(service.stream(llmRequest('claude-sonnet-5')));
      expect(error).toBeUndefined();
      expect(textOf(events)).toBe(FAKE_ANTHROPIC_REPLY);
      await service.onApplicationShutdown();
    }
  });
});
