import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

// A local stand-in for api.anthropic.com: POST /v1/messages answered in Anthropic's real streaming
// wire format, so the real @anthropic-ai/sdk code path runs in tests. Point ANTHROPIC_BASE_URL at
// `fake.url`. What it answers is chosen per request, first match wins:
//   1. a scenario queued with `fake.enqueue(...)` (FIFO, one per request);
//   2. a marker in the last user message, e.g. "[[fake:overloaded]]" (see FAKE_MARKERS), so that
//      end-to-end and browser tests can pick a scenario without holding the fake;
//   3. `fake.defaultScenario` (a short deterministic reply, FAKE_ANTHROPIC_REPLY).

export type FakeAnthropicScenario =
  // A normal answer: `chunks` are the text deltas, in order. Honours the request's max_tokens
  // (~4 characters per token), stopping with stop_reason "max_tokens".
  | {
      kind: 'text';
      chunks: string[];
      chunkDelayMs?: number; // between deltas (default 15; 0: no pause at all)
      firstTokenDelayMs?: number; // after message_start, before the first delta (default 0)
      noise?: boolean; // extra pings and an unknown event type between deltas
      thinking?: string; // a thinking block (thinking_delta, signature_delta) before the text block
      stopReason?: string; // default "end_turn"
      inputTokens?: number; // default ~ request characters / 4
    }
  // `afterChunks` deltas, then `event: error` with this error type (default overloaded_error).
  | { kind: 'stream-error'; chunks: string[]; afterChunks: number; errorType?: string; message?: string; chunkDelayMs?: number }
  // An HTTP error answer with Anthropic's error JSON; 429 carries `retry-after: 0` unless headers say otherwise.
  | { kind: 'http-error'; status: number; errorType?: string; message?: string; headers?: Record<string, string> }
  // `afterChunks` deltas, then the TCP connection is destroyed mid-stream.
  | { kind: 'drop'; chunks: string[]; afterChunks: number; chunkDelayMs?: number }
  // The request is read and never answered: no status line, no byte, until the client leaves.
  | { kind: 'hang' }
  // `afterChunks` deltas, then silence (no event, no ping) with the connection left open.
  | { kind: 'stall'; chunks: string[]; afterChunks: number; chunkDelayMs?: number };

export const FAKE_ANTHROPIC_REPLY = 'Hello from the fake Anthropic upstream.';

// Each word with the whitespace after it, so the chunks join back to exactly `text`.
export function chunkText(text: string): string[] {
  return text.match(/\s*\S+\s*/gu) ?? [text];
}

// "Chunk 1. Chunk 2. ..." for stop tests: 200 deltas, 20 ms apart (~4 s).
export const FAKE_LONG_CHUNKS = Array.from({ length: 200 }, (_, i) => `Chunk ${i + 1}. `);

const replyChunks = chunkText(FAKE_ANTHROPIC_REPLY);

// Scenarios selectable with "[[fake:<name>]]" in the last user message.
export const FAKE_MARKERS = {
  default: { kind: 'text', chunks: replyChunks },
  noise: { kind: 'text', chunks: replyChunks, noise: true, thinking: 'Let me think about that.' },
  slow: { kind: 'text', chunks: replyChunks, firstTokenDelayMs: 2_000 },
  long: { kind: 'text', chunks: FAKE_LONG_CHUNKS, chunkDelayMs: 20 },
  // In-stream `event: error` (overloaded_error) after 2 deltas; "overloaded-early" before any delta.
  overloaded: { kind: 'stream-error', chunks: replyChunks, afterChunks: 2 },
  'overloaded-early': { kind: 'stream-error', chunks: replyChunks, afterChunks: 0 },
  drop: { kind: 'drop', chunks: replyChunks, afterChunks: 2 },
  hang: { kind: 'hang' },
  stall: { kind: 'stall', chunks: replyChunks, afterChunks: 2 },
  '429': { kind: 'http-error', status: 429 },
  '529': { kind: 'http-error', status: 529 },
  error500: { kind: 'http-error', status: 500 },
} satisfies Record<string, FakeAnthropicScenario>;

export type FakeMarker = keyof typeof FAKE_MARKERS;

export const fakeMarker = (name: FakeMarker) => `[[fake:${name}]]`;

// The app's environment for serving claude-sonnet-5 (the default model) from this fake.
export function fakeAnthropicEnv(fake: { url: string }): Record<string, string> {
  return { ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: fake.url, MODELS: 'anthropic=claude-sonnet-5', DEFAULT_MODEL: 'claude-sonnet-5' };
}

const HTTP_ERROR_TYPES: Record<number, [string, string]> = {
  400: ['invalid_request_error', 'Invalid request'],
  401: ['authentication_error', 'invalid x-api-key'],
  404: ['not_found_error', 'Not found'],
  429: ['rate_limit_error', 'Rate limited. Please try again later.'],
  500: ['api_error', 'Internal server error'],
  529: ['overloaded_error', 'Overloaded'],
};

export type FakeAnthropic = FakeUpstream<FakeAnthropicScenario>;

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  return startFakeUpstream<FakeAnthropicScenario>({
    defaultScenario: FAKE_MARKERS.default,
    markers: FAKE_MARKERS,
    handle: handleAnthropic,
  });
}

async function handleAnthropic(ctx: FakeExchange<FakeAnthropicScenario>): Promise<void> {
  const { req, record } = ctx;
  if (req.method !== 'POST' || record.path !== '/v1/messages') return anthropicError(ctx, 404, 'not_found_error', `${req.method} ${record.path} not found`);
  if (!req.headers['x-api-key']) return anthropicError(ctx, 401, 'authentication_error', 'x-api-key header is required');
  if (!req.headers['anthropic-version']) return anthropicError(ctx, 400, 'invalid_request_error', 'anthropic-version header is required');
  const problem = invalidMessagesBody(record.body);
  if (problem) return anthropicError(ctx, 400, 'invalid_request_error', problem);
  const body = record.body as MessagesBody;

  const scenario = ctx.pickScenario(lastUserText(body.messages));
  record.scenario = scenario;
  if (scenario.kind === 'http-error') {
    const [type, message] = HTTP_ERROR_TYPES[scenario.status] ?? ['api_error', 'Error'];
    const headers = scenario.status === 429 ? { 'retry-after': '0', ...scenario.headers } : scenario.headers;
    return anthropicError(ctx, scenario.status, scenario.errorType ?? type, scenario.message ?? message, headers);
  }
  if (scenario.kind === 'hang') return;

  const messageId = `msg_fake_${String(record.index + 1).padStart(4, '0')}`;
  const inputTokens = (scenario.kind === 'text' ? scenario.inputTokens : undefined) ?? Math.max(1, Math.ceil(requestChars(body) / 4));
  const maxChars = body.max_tokens * 4;
  const reply: NonNullable<FakeRequestRecord<FakeAnthropicScenario>['reply']> = { text: '', inputTokens, outputTokens: 1, stopReason: null };
  record.reply = reply;

  if (body.stream !== true) {
    // Non-streaming: the whole message at once (not used by the app, kept for completeness).
    const text = scenario.chunks.join('').slice(0, maxChars);
    Object.assign(reply, { text, outputTokens: tokens(text), stopReason: 'end_turn' });
    return ctx.json(200, {
      id: messageId, type: 'message', role: 'assistant', model: body.model,
      content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null,
      usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: tokens(text) },
    }, { 'request-id': ctx.requestId });
  }

  ctx.startStream({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': ctx.requestId });
  const send = (event: string, data: unknown) => ctx.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

  await send('message_start', {
    type: 'message_start',
    message: {
      id: messageId, type: 'message', role: 'assistant', model: body.model, content: [],
      stop_reason: null, stop_sequence: null,
      usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    },
  });
  let index = 0;
  if (scenario.kind === 'text' && scenario.thinking) {
    await send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: scenario.thinking } });
    await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: 'ZmFrZS1zaWduYXR1cmU=' } });
    await send('content_block_stop', { type: 'content_block_stop', index });
    index += 1;
  }
  await send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
  await send('ping', { type: 'ping' });

  const chunkDelayMs = scenario.chunkDelayMs ?? 15;
  const limit = scenario.kind === 'text' ? scenario.chunks.length : scenario.afterChunks;
  let stopReason = scenario.kind === 'text' ? (scenario.stopReason ?? 'end_turn') : 'end_turn';
  if (scenario.kind === 'text' && scenario.firstTokenDelayMs) await ctx.sleep(scenario.firstTokenDelayMs);
  for (let i = 0; i < limit && ctx.alive(); i++) {
    // chunkDelayMs 0: as fast as the connection takes them (a timer would add 1 ms each).
    if (i > 0 && chunkDelayMs > 0) await ctx.sleep(chunkDelayMs);
    let text = scenario.chunks[i % scenario.chunks.length];
    if (reply.text.length + text.length > maxChars) {
      text = text.slice(0, maxChars - reply.text.length);
      stopReason = 'max_tokens';
    }
    if (text) {
      await send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      reply.text += text;
      reply.outputTokens = tokens(reply.text);
    }
    if (scenario.kind === 'text' && scenario.noise) {
      await send('ping', { type: 'ping' });
      await send('fake_future_event', { type: 'fake_future_event', detail: 'clients must ignore unknown event types' });
    }
    if (stopReason === 'max_tokens') break;
  }

  if (!ctx.alive()) return; // the client went away
  if (scenario.kind === 'stream-error') {
    await send('error', { type: 'error', error: { type: scenario.errorType ?? 'overloaded_error', message: scenario.message ?? 'Overloaded' } });
    return ctx.end();
  }
  if (scenario.kind === 'drop') return ctx.drop();
  if (scenario.kind === 'stall') return;

  await send('content_block_stop', { type: 'content_block_stop', index });
  await send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: reply.outputTokens },
  });
  reply.stopReason = stopReason;
  await send('message_stop', { type: 'message_stop' });
  ctx.end();
}

function anthropicError(ctx: FakeExchange<FakeAnthropicScenario>, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  ctx.json(status, { type: 'error', error: { type, message }, request_id: ctx.requestId }, { 'request-id': ctx.requestId, ...headers });
}

interface MessagesBody {
  model: string;
  max_tokens: number;
  stream?: boolean;
  system?: string | { type: string; text?: string }[];
  messages: { role: string; content: string | { type: string; text?: string }[] }[];
}

// The checks the real API makes that a provider bug would trip.
function invalidMessagesBody(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return 'body: expected a JSON object';
  const b = body as Partial<MessagesBody>;
  if (typeof b.model !== 'string' || !b.model) return 'model: Field required';
  if (!Number.isInteger(b.max_tokens) || (b.max_tokens ?? 0) < 1) return 'max_tokens: Field required';
  if (!Array.isArray(b.messages) || b.messages.length === 0) return 'messages: at least one message is required';
  if (b.messages[0].role !== 'user') return 'messages: first message must use the "user" role';
  for (const [i, m] of b.messages.entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    const text = typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((c) => c.text ?? '').join('') : undefined;
    if (text === undefined) return `messages.${i}.content: Input should be a valid list`;
    const final = i === b.messages.length - 1 && m.role === 'assistant';
    if (text.trim() === '' && !final) return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
  }
  return undefined;
}

function textOf(content: MessagesBody['messages'][number]['content'] | MessagesBody['system']): string {
  if (content === undefined) return '';
  return typeof content === 'string' ? content : content.map((c) => c.text ?? '').join('');
}

function lastUserText(messages: MessagesBody['messages']): string {
  return textOf(messages.findLast((m) => m.role === 'user')?.content ?? '');
}

function requestChars(body: MessagesBody): number {
  return textOf(body.system).length + body.messages.reduce((n, m) => n + textOf(m.content).length, 0);
}

const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

// ---------------------------------------------------------------------------------------------
// The machinery both fakes share (fake-openai.ts uses it too): a node:http server on 127.0.0.1,
// a FIFO of scenarios, and a record of every request and of when its connection closed.

export interface FakeRequestRecord<S> {
  index: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  scenario?: S;
  // What the fake has sent so far (streamed answers).
  reply?: { text: string; inputTokens: number; outputTokens: number; stopReason: string | null };
  startedAt: number; // Date.now() when the request arrived
  closedAt?: number; // Date.now() when the response closed: finished, dropped, or closed by the client
  finished: boolean; // the fake wrote its whole response
  closedByClient: boolean; // the client went away before the response was finished
}

export interface FakeUpstream<S> {
  readonly url: string; // http://127.0.0.1:<port>, no trailing slash
  readonly requests: FakeRequestRecord<S>[];
  defaultScenario: S;
  // Scenarios for the next requests, one each, first in first out.
  enqueue(...scenarios: S[]): void;
  waitForRequest(index: number, timeoutMs?: number): Promise<FakeRequestRecord<S>>;
  // Resolves once request `index` has arrived and its response has closed, whichever way.
  waitForClose(index: number, timeoutMs?: number): Promise<FakeRequestRecord<S>>;
  // Forgets queued scenarios and recorded requests.
  reset(): void;
  close(): Promise<void>;
}

export interface FakeExchange<S> {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  record: FakeRequestRecord<S>;
  requestId: string;
  pickScenario(lastUserText: string): S;
  json(status: number, body: unknown, headers?: Record<string, string>): void;
  startStream(headers: Record<string, string>): void;
  // Resolves once the bytes are handed to the socket; a no-op after the connection is gone.
  write(chunk: string): Promise<void>;
  end(): void;
  // Destroys the TCP connection mid-response.
  drop(): void;
  sleep(ms: number): Promise<void>;
  alive(): boolean;
}

export interface FakeUpstreamOptions<S> {
  defaultScenario: S;
  markers: Record<string, S>;
  handle(exchange: FakeExchange<S>): Promise<void>;
}

const MARKER = /\[\[fake:([A-Za-z0-9_-]+)\]\]/;

export async function startFakeUpstream<S>(options: FakeUpstreamOptions<S>): Promise<FakeUpstream<S>> {
  const requests: FakeRequestRecord<S>[] = [];
  const queue: S[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const stopping = new AbortController();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // kept as text
      }
      const record: FakeRequestRecord<S> = {
        index: requests.length,
        method: req.method ?? '',
        path: (req.url ?? '/').split('?')[0],
        headers: req.headers,
        body,
        startedAt: Date.now(),
        finished: false,
        closedByClient: false,
      };
      requests.push(record);
      let dropped = false;
      res.on('finish', () => {
        record.finished = true;
      });
      res.on('close', () => {
        record.closedAt = Date.now();
        record.closedByClient = !record.finished && !dropped;
        events.emit('close', record.index);
      });
      const alive = () => !res.destroyed && !res.writableEnded && !stopping.signal.aborted;
      const exchange: FakeExchange<S> = {
        req,
        res,
        record,
        requestId: `req_fake_${String(record.index + 1).padStart(4, '0')}`,
        pickScenario: (text) => {
          const queued = queue.shift();
          if (queued !== undefined) return queued;
          const marker = MARKER.exec(text)?.[1];
          return (marker !== undefined && Object.hasOwn(options.markers, marker) ? options.markers[marker] : undefined) ?? fake.defaultScenario;
        },
        json: (status, payload, headers = {}) => {
          const text = JSON.stringify(payload);
          res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
          res.end(text);
        },
        startStream: (headers) => {
          res.writeHead(200, { connection: 'keep-alive', ...headers });
          res.flushHeaders();
        },
        write: (chunk) =>
          new Promise((resolve) => {
            if (!alive()) return resolve();
            res.write(chunk, () => resolve());
          }),
        end: () => {
          if (alive()) res.end();
        },
        drop: () => {
          dropped = true;
          req.socket.destroy();
        },
        sleep: (ms) => delay(ms, undefined, { signal: stopping.signal }).catch(() => undefined),
        alive,
      };
      events.emit('request', record.index);
      options.handle(exchange).catch((error: unknown) => {
        if (!res.headersSent) exchange.json(500, { error: String(error) });
        else res.destroy();
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  const waitFor = (index: number, ready: () => boolean, what: string, timeoutMs: number) =>
    new Promise<FakeRequestRecord<S>>((resolve, reject) => {
      const check = () => {
        if (!ready()) return;
        cleanup();
        resolve(requests[index]);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake upstream: request ${index} was not ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        events.off('request', check);
        events.off('close', check);
      };
      events.on('request', check);
      events.on('close', check);
      check();
    });

  const fake: FakeUpstream<S> = {
    url: `http://127.0.0.1:${port}`,
    requests,
    defaultScenario: options.defaultScenario,
    enqueue: (...scenarios) => {
      queue.push(...scenarios);
    },
    waitForRequest: (index, timeoutMs = 5_000) => waitFor(index, () => requests[index] !== undefined, 'received', timeoutMs),
    waitForClose: (index, timeoutMs = 5_000) => waitFor(index, () => requests[index]?.closedAt !== undefined, 'closed', timeoutMs),
    reset: () => {
      queue.length = 0;
      requests.length = 0;
    },
    close: async () => {
      stopping.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
