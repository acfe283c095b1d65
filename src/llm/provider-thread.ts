import { Worker } from 'node:worker_threads';
import { requestContext } from '../common/logging/request-context.js';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppLogger } from '../common/logging/logger.js';
import { abortError } from './abort.js';
import { ProviderFailure, type GenerateRequest, type LlmEvent, type LlmProvider } from './llm.types.js';

export interface ProviderThreadSettings {
  anthropic?: { apiKey: string; baseUrl?: string };
  openai?: { apiKey?: string; baseUrl?: string };
}

type ThreadedName = 'anthropic' | 'openai';
type WireRequest = Omit<GenerateRequest, 'signal' | 'onActivity'>;

export interface WireFailure {
  code: ProviderFailure['code'];
  message: string;
  retryable: boolean;
  retriedBySdk: boolean;
  cause?: { name: string; message: string; status?: number };
}

export type ToThread = { type: 'start'; id: number; provider: ThreadedName; request: WireRequest } | { type: 'abort'; id: number };

export type FromThread =
  | { kind: 'delta'; id: number; text: string }
  | { kind: 'done'; id: number; event: LlmEvent }
  | { kind: 'end'; id: number }
  | { kind: 'failure'; id: number; failure: WireFailure }
  | { kind: 'activity'; id: number }
  | { kind: 'ready' }
  | { kind: 'log'; level: 'error' | 'warn' | 'info' | 'debug'; obj: object; msg: string };

type Message = Exclude<FromThread, { kind: 'log' } | { kind: 'ready' }>;

interface Stream {
  queue: Message[];
  wake?: () => void;
  onActivity?: () => void;
}

// The model providers' SDK clients on a worker thread. On the main thread the SDK's HTTP client,
// its web streams and its SSE parsing took about a quarter of the work of held streams; here the main thread gets the deltas' text a batch at a time. The providers
// are the same classes (their requests, their error mapping); a failure comes back as the
// ProviderFailure they threw. A thread that dies fails the streams it had, and the next
// stream starts a new one.
export class ProviderThread {
  private worker?: Worker;
  // Settles once the worker has built its providers (or has died trying).
  private loaded?: Promise<void>;
  private isLoaded = false;
  private readonly streams = new Map<number, Stream>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly settings: ProviderThreadSettings,
    private readonly logger: AppLogger,
  ) {}

  // Starts the thread ahead of the first request (loading the SDKs takes a moment); a stream
  // starts it otherwise.
  start(): void {
    if (!this.closed) this.thread();
  }

  provider(name: ThreadedName): LlmProvider {
    return { name, stream: (request) => this.stream(name, request), ready: (signal) => this.ready(signal) };
  }

  // The thread started and its SDKs loaded: until then, a request waits here, not upstream. An
  // abort ends the wait; a thread that does not load in LOAD_TIMEOUT_MS is given up.
  async ready(signal?: AbortSignal): Promise<void> {
    if (this.closed) throw shuttingDown();
    const worker = this.thread();
    // Every request asks: once loaded, nothing more to wait for.
    if (this.isLoaded) return;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        this.loaded,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The model providers thread did not start', true));
            void worker.terminate();
          }, LOAD_TIMEOUT_MS);
          if (!signal) return;
          onAbort = () => reject(abortError(signal));
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  // After the generations have drained; a stream still open then ends as a retryable failure.
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
    this.failAll(wireOf(shuttingDown(), false));
  }

  private async *stream(provider: ThreadedName, request: GenerateRequest): AsyncGenerator<LlmEvent> {
    const { signal, onActivity, ...wire } = request;
    if (signal.aborted) throw abortError(signal);
    if (this.closed) throw shuttingDown();
    const worker = this.thread();
    const id = ++this.nextId;
    const stream: Stream = { queue: [], onActivity };
    this.streams.set(id, stream);
    const wake = () => wakeUp(stream);
    signal.addEventListener('abort', wake, { once: true });
    let ended = false;
    try {
      try {
        worker.postMessage({ type: 'start', id, provider, request: wire } satisfies ToThread);
      } catch (error) {
        ended = true;
        throw new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The request could not be handed to the model providers thread', false, { cause: error });
      }
      for (;;) {
        if (signal.aborted) throw abortError(signal);
        const message = stream.queue.shift();
        if (!message) {
          await new Promise<void>((resolve) => (stream.wake = resolve));
          continue;
        }
        if (message.kind === 'delta') yield { type: 'delta', text: message.text };
        else if (message.kind === 'done') yield message.event;
        else if (message.kind === 'failure') {
          ended = true;
          throw toFailure(message.failure);
        } else if (message.kind === 'end') {
          ended = true;
          return;
        }
      }
    } finally {
      signal.removeEventListener('abort', wake);
      this.streams.delete(id);
      // Left early (an abort, or the caller stopped reading): the request upstream goes too.
      if (!ended) this.worker?.postMessage({ type: 'abort', id } satisfies ToThread);
    }
  }

  private failAll(failure: WireFailure): void {
    for (const [id, stream] of this.streams) {
      stream.queue.push({ kind: 'failure', id, failure });
      wakeUp(stream);
    }
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // Outside any request's context: the thread outlives the request that happens to start it,
    // and its log lines are nobody's request.
    const worker = requestContext.exit(() => startWorker(this.settings));
    worker.unref();
    let loaded!: () => void;
    let failed!: (error: unknown) => void;
    this.loaded = new Promise<void>((resolve, reject) => ((loaded = resolve), (failed = reject)));
    // Not every start is awaited (start() at boot); a failure is still logged by lost().
    this.loaded.catch(() => undefined);
    worker.on('message', (batch: FromThread[]) => {
      for (const message of batch) {
        if (message.kind === 'ready') {
          if (this.worker === worker) this.isLoaded = true;
          loaded();
          continue;
        }
        if (message.kind === 'log') {
          this.logger[message.level](message.obj, message.msg);
          continue;
        }
        const stream = this.streams.get(message.id);
        if (!stream) continue;
        // Every message is a sign of life from the provider; an activity message is nothing more.
        stream.onActivity?.();
        if (message.kind === 'activity') continue;
        stream.queue.push(message);
        wakeUp(stream);
      }
    });
    const lost = (cause: unknown) => {
      const failure = new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The connection to the model provider failed', true, { cause });
      failed(failure);
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.isLoaded = false;
      if (!this.closed) this.logger.error({ err: cause }, 'the model providers thread stopped; starting another for the next request');
      this.failAll(wireOf(failure, false));
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}

// Loading the SDKs takes about 0.3 s from the build and 1 s from the sources.
const LOAD_TIMEOUT_MS = 30_000;

const shuttingDown = () => new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The server is shutting down', true);

function wakeUp(stream: Stream): void {
  const resolve = stream.wake;
  stream.wake = undefined;
  resolve?.();
}

// A failure as it crosses between the threads: its fields, and its cause's name, message and
// HTTP status for the log (withCause false: the cause is this side's own, of no use to the caller).
export function wireOf(failure: ProviderFailure, withCause = true): WireFailure {
  const cause = withCause ? (failure.cause as { name?: string; message?: string; status?: number } | undefined) : undefined;
  return {
    code: failure.code,
    message: failure.message,
    retryable: failure.retryable,
    retriedBySdk: failure.retriedBySdk,
    cause: cause ? { name: String(cause.name ?? 'Error'), message: String(cause.message ?? cause), status: typeof cause.status === 'number' ? cause.status : undefined } : undefined,
  };
}

function toFailure(wire: WireFailure): ProviderFailure {
  const cause = wire.cause ? Object.assign(new Error(wire.cause.message), { name: wire.cause.name, status: wire.cause.status }) : undefined;
  return new ProviderFailure(wire.code, wire.message, wire.retryable, { cause, retriedBySdk: wire.retriedBySdk });
}

// The build runs the compiled worker beside this file; the tests run the TypeScript sources,
// which Node runs itself given its type transform and the hooks that find `./x.js` as `./x.ts`.
function startWorker(settings: ProviderThreadSettings): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  if (!fromSources) return new Worker(new URL('./provider-thread.worker.js', import.meta.url), { workerData: settings });
  return new Worker(new URL('./provider-thread.worker.ts', import.meta.url), {
    workerData: settings,
    execArgv: ['--experimental-transform-types', '--disable-warning=ExperimentalWarning', '--import', new URL('../../scripts/worker-ts-hooks.mjs', import.meta.url).href],
  });
}
