import { ChatApiError, errorFromResponse, isTransientStatus } from './errors.js';
import { readEventStream, type EventStreamFrame } from './event-stream.js';
import type { AnswerEventMap, GenerationEventName, RegenerateBody, SendMessageBody, StreamFrame } from './types.js';

// The send stream over fetch: POST /api/v1/messages/send (or regenerate), frames typed by event,
// and a dropped connection picked up again through GET /api/v1/messages/{id}/stream with
// Last-Event-ID, so that the caller sees every frame exactly once.

// The frames a client knows how to type. Checked against the server's event map: an event added
// there fails the type check here until it is listed. Frames of other events are skipped.
const GENERATION_EVENTS = {
  assistant_typing: true,
  message_sources: true,
  assistant_regenerating: true,
  assistant_delta: true,
  assistant_complete: true,
  assistant_regenerated: true,
  assistant_error: true,
  usage_info: true,
} satisfies Record<GenerationEventName, true>;

// The names of a generation's frames, in the order a client may meet them (usage_info last).
export const GENERATION_EVENT_NAMES = Object.keys(GENERATION_EVENTS) as GenerationEventName[];

// The last word of a generation; usage_info follows it.
const LAST_WORDS: ReadonlySet<string> = new Set<GenerationEventName>(['assistant_complete', 'assistant_regenerated', 'assistant_error']);

export type HeadersInput = ConstructorParameters<typeof Headers>[0];

export interface RequestOptions {
  // Identity headers: {authorization: `Bearer ${token}`} or {'x-anon-id': anonId}. A function is
  // called for every request, reconnections included (a refreshed token is picked up).
  headers?: HeadersInput | (() => HeadersInput);
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

export interface ReconnectOptions {
  // Attempts in a row without a new frame before giving up (default 5).
  retries?: number;
  // Back-off: the first wait, doubled per failed attempt up to maxDelayMs (defaults 250 / 5000 ms).
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  messageId: string;
  lastEventId: string | undefined;
  error: unknown;
}

export interface StreamOptions extends RequestOptions {
  // Resume through GET .../stream when the connection drops before the end (default on).
  reconnect?: boolean | ReconnectOptions;
  onReconnect?: (info: ReconnectInfo) => void;
}

export interface SendOptions extends StreamOptions {
  // Sets keep_generating in the body: the server goes on if this client goes away, so that a
  // reconnection finds the answer still growing. Without it the server stops the answer when the
  // connection drops, and a reconnection gets its end (assistant_error STOPPED) instead.
  keepGenerating?: boolean;
}

export function sendMessage(baseUrl: string, body: SendMessageBody, options: SendOptions = {}): AnswerStream {
  return post(baseUrl, '/api/v1/messages/send', withKeepGenerating(body, options.keepGenerating), options);
}

export function regenerate(baseUrl: string, body: RegenerateBody, options: SendOptions = {}): AnswerStream {
  return post(baseUrl, '/api/v1/messages/regenerate', withKeepGenerating(body, options.keepGenerating), options);
}

// Follows a generation from after lastEventId (absent: from its first frame); a finished one
// replays to its end.
export function resume(baseUrl: string, messageId: string, lastEventId?: string, options: StreamOptions = {}): AnswerStream {
  return new AnswerStream(baseUrl, options, null, { messageId, lastEventId });
}

// POST /api/v1/messages/{id}/stop: the stream, wherever it is read, ends with assistant_error STOPPED.
export async function stop(baseUrl: string, messageId: string, options: RequestOptions = {}): Promise<AnswerEventMap['message_stopped']> {
  const response = await call(options, url(baseUrl, `/api/v1/messages/${encodeURIComponent(messageId)}/stop`), { method: 'POST' });
  if (!response.ok) throw await errorFromResponse(response);
  return (await response.json()) as AnswerEventMap['message_stopped'];
}

// The typed frames of one response, without reconnection: for a Response obtained elsewhere.
// A refusal (non-2xx) throws its ChatApiError.
export async function* streamFrames(response: Response): AsyncGenerator<StreamFrame, void, undefined> {
  if (!response.ok) throw await errorFromResponse(response);
  if (!response.body) throw new ChatApiError({ code: 'PROTOCOL_ERROR', message: 'The response has no body', status: response.status });
  for await (const raw of readEventStream(response.body)) {
    const frame = toFrame(raw);
    if (frame) yield frame;
  }
}

// One answer's frames, read once with `for await`. A refusal before the answer starts throws a
// ChatApiError (with status, code, retryable and retryAfterMs); a failure during the answer is
// a frame (assistant_error), followed by usage_info, as on the wire.
export class AnswerStream implements AsyncIterable<StreamFrame> {
  messageId: string | undefined;
  chatId: string | undefined;
  // The id of the last frame yielded: resume(messageId, lastEventId) continues from there.
  lastEventId: string | undefined;
  // How many times the stream was picked up again.
  reconnects = 0;
  // The answer's last word (assistant_complete, assistant_regenerated or assistant_error) was seen.
  ended = false;
  // ... and its usage_info: nothing more will come.
  finished = false;

  private lastSeq: number | undefined;
  private read = false;

  constructor(
    private readonly baseUrl: string,
    private readonly options: StreamOptions,
    // The request that starts the answer; null: resume messageId from the start.
    private readonly start: ((signal?: AbortSignal) => Promise<Response>) | null,
    from?: { messageId: string; lastEventId?: string },
  ) {
    if (from) {
      this.messageId = from.messageId;
      this.lastEventId = from.lastEventId;
      this.lastSeq = from.lastEventId ? parseEventId(from.lastEventId)?.seq : undefined;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamFrame> {
    if (this.read) throw new Error('An AnswerStream can be read only once');
    this.read = true;
    return this.frames();
  }

  private async *frames(): AsyncGenerator<StreamFrame, void, undefined> {
    const { signal } = this.options;
    const settings = reconnectSettings(this.options.reconnect);
    let response = this.start ? await this.open(this.start) : undefined;
    // resume(): the first connection is made at once; later ones after a back-off.
    let connectNow = this.start === null;
    let failures = 0; // attempts in a row without a new frame
    let lastError: unknown;
    let waitMs: number | undefined;
    for (;;) {
      if (response) {
        try {
          for await (const raw of readEventStream(response.body!)) {
            const frame = this.accept(raw);
            if (!frame) continue;
            failures = 0;
            yield frame;
            if (this.finished) return;
            if (signal?.aborted) throw signal.reason;
          }
          // Closed by the server after the last word: only usage_info is missing, not worth a retry.
          if (this.ended) return;
          lastError = new ChatApiError({ code: 'NETWORK_ERROR', message: 'The stream closed before the answer ended', retryable: true });
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          if (error instanceof ChatApiError) throw error;
          lastError = error;
        }
        response = undefined;
      }
      const initial = connectNow;
      if (!connectNow) {
        failures += 1;
        if (!settings || !this.messageId || failures > settings.retries) throw this.brokenOff(lastError);
        const delayMs = waitMs ?? backoff(settings, failures);
        this.options.onReconnect?.({ attempt: failures, delayMs, messageId: this.messageId, lastEventId: this.lastEventId, error: lastError });
        await sleep(delayMs, signal);
      }
      connectNow = false;
      waitMs = undefined;
      try {
        const headers = new Headers(headersOf(this.options));
        headers.set('accept', 'text/event-stream');
        if (this.lastEventId) headers.set('last-event-id', this.lastEventId);
        const res = await call(this.options, url(this.baseUrl, `/api/v1/messages/${encodeURIComponent(this.messageId!)}/stream`), { headers });
        if (res.ok && res.body) {
          response = res;
          if (!initial) this.reconnects += 1;
        } else {
          const error = await errorFromResponse(res);
          // Not found, not yours, a bad Last-Event-ID: trying again will not help.
          if (!isTransientStatus(res.status)) throw error;
          lastError = error;
          waitMs = error.retryAfterMs;
        }
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (error instanceof ChatApiError) throw error;
        lastError = error;
      }
    }
  }

  private async open(start: (signal?: AbortSignal) => Promise<Response>): Promise<Response> {
    let response: Response;
    try {
      response = await start(this.options.signal);
    } catch (error) {
      if (this.options.signal?.aborted) throw this.options.signal.reason;
      throw new ChatApiError({ code: 'NETWORK_ERROR', message: 'Could not reach the server', retryable: true, cause: error });
    }
    if (!response.ok) throw await errorFromResponse(response);
    if (!response.body || !(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      await response.body?.cancel();
      throw new ChatApiError({ code: 'PROTOCOL_ERROR', message: `Expected text/event-stream, got ${response.headers.get('content-type') ?? 'no content type'}`, status: response.status });
    }
    return response;
  }

  // Bookkeeping for one frame; undefined for frames to skip (unknown, or seen before a reconnection).
  private accept(raw: EventStreamFrame): StreamFrame | undefined {
    const frame = toFrame(raw);
    if (raw.id !== undefined) {
      const parsed = parseEventId(raw.id);
      if (parsed) {
        if (this.messageId !== undefined && parsed.messageId !== this.messageId) return undefined;
        if (this.lastSeq !== undefined && parsed.seq <= this.lastSeq) return undefined;
        this.messageId ??= parsed.messageId;
        this.lastSeq = parsed.seq;
      }
      this.lastEventId = raw.id;
    }
    if (!frame) return undefined;
    if (frame.event !== 'usage_info') {
      this.messageId ??= frame.data.message_id;
      this.chatId ??= frame.data.chat_id;
    }
    if (LAST_WORDS.has(frame.event)) this.ended = true;
    else if (frame.event === 'usage_info' && this.ended) this.finished = true;
    return frame;
  }

  private brokenOff(cause: unknown): ChatApiError {
    if (cause instanceof ChatApiError && cause.code !== 'NETWORK_ERROR') return cause;
    return new ChatApiError({
      code: 'NETWORK_ERROR',
      message: this.messageId ? 'The connection broke off and could not be resumed' : 'The connection broke off before the answer started',
      retryable: true,
      messageId: this.messageId,
      lastEventId: this.lastEventId,
      cause,
    });
  }
}

function post(baseUrl: string, path: string, body: object, options: StreamOptions): AnswerStream {
  return new AnswerStream(baseUrl, options, (signal) => {
    const headers = new Headers(headersOf(options));
    headers.set('content-type', 'application/json');
    headers.set('accept', 'text/event-stream');
    return call({ ...options, signal }, url(baseUrl, path), { method: 'POST', headers, body: JSON.stringify(body) });
  });
}

function withKeepGenerating<T extends { keep_generating?: boolean }>(body: T, keepGenerating: boolean | undefined): T {
  return keepGenerating === undefined ? body : { ...body, keep_generating: keepGenerating };
}

function toFrame(raw: EventStreamFrame): StreamFrame | undefined {
  if (!Object.hasOwn(GENERATION_EVENTS, raw.event)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(raw.data);
  } catch (cause) {
    throw new ChatApiError({ code: 'PROTOCOL_ERROR', message: `The data of a ${raw.event} frame is not JSON`, cause });
  }
  return { id: raw.id ?? '', event: raw.event, data } as StreamFrame;
}

// "<assistant message id>:<seq>"
export function parseEventId(id: string): { messageId: string; seq: number } | undefined {
  const colon = id.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const seq = Number(id.slice(colon + 1));
  return Number.isSafeInteger(seq) && seq >= 0 ? { messageId: id.slice(0, colon), seq } : undefined;
}

function reconnectSettings(option: StreamOptions['reconnect']): Required<ReconnectOptions> | null {
  if (option === false) return null;
  const given = option === true || option === undefined ? {} : option;
  return { retries: given.retries ?? 5, initialDelayMs: given.initialDelayMs ?? 250, maxDelayMs: given.maxDelayMs ?? 5000 };
}

// Exponential, with jitter so that many clients cut off at once do not come back at once.
function backoff(settings: Required<ReconnectOptions>, attempt: number): number {
  const base = Math.min(settings.maxDelayMs, settings.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function headersOf(options: RequestOptions): HeadersInput {
  return typeof options.headers === 'function' ? options.headers() : options.headers;
}

export function call(options: RequestOptions, target: string, init: RequestInit): Promise<Response> {
  const headers = init.headers ?? new Headers(headersOf(options));
  return (options.fetch ?? fetch)(target, { ...init, headers, signal: options.signal });
}

export function url(baseUrl: string, path: string): string {
  return baseUrl.replace(/\/+$/, '') + path;
}
