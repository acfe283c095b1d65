import { describe, expect, it } from 'vitest';
import { ChatApiError, parseRetryAfter } from '../../client/src/errors.js';
import { resume, sendMessage, stop, streamFrames, type AnswerStream } from '../../client/src/messages.js';
import type { StreamFrame } from '../../client/src/types.js';

// The typed client's fetch reader against a scripted server: each fetch call is answered by the
// next step of a script, and every request is recorded. (The real app: test/e2e/client.e2e.test.ts.)
const M = '0b0e5f6e-8d1c-4c6a-9d7e-1f2a3b4c5d6e';
const C = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

type Step = (request: Request) => Response | Promise<Response>;

function scripted(...steps: Step[]) {
  const requests: Request[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    // Relative addresses (baseUrl '') as a page on http://localhost would send them.
    const request = new Request(input instanceof Request ? input : new URL(String(input), 'http://localhost'), init);
    requests.push(request);
    const step = steps.shift();
    if (!step) throw new Error(`unexpected request ${request.method} ${request.url}`);
    return step(request);
  };
  return { fetch: fetch as typeof globalThis.fetch, requests, left: () => steps.length };
}

const frame = (seq: number, event: string, data: unknown) => `id: ${M}:${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const typing = frame(1, 'assistant_typing', { chat_id: C, user_message_id: 'u', message_id: M, model: 'echo' });
const delta = (seq: number, text: string) => frame(seq, 'assistant_delta', { chat_id: C, message_id: M, delta: text });
const complete = (seq: number, content: string) =>
  frame(seq, 'assistant_complete', { chat_id: C, message_id: M, content, model: 'echo', stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 2 }, created_at: '2026-01-01T00:00:00.000Z' });
const usage = (seq: number) => frame(seq, 'usage_info', { identity: 'anonymous', messages_used: 1, messages_limit: 10, messages_remaining: 9, resets_at: null });
const WHOLE = [typing, delta(2, 'One '), delta(3, 'two '), delta(4, 'three.'), complete(5, 'One two three.'), usage(6)];

const SSE = { 'content-type': 'text/event-stream; charset=utf-8' };

// A body that sends these pieces, then either ends or breaks off as a cut connection does.
function body(pieces: string[], end: 'close' | 'break' = 'close'): ReadableStream<Uint8Array> {
  const queue = [...pieces];
  return new ReadableStream({
    pull(controller) {
      const next = queue.shift();
      if (next !== undefined) controller.enqueue(new TextEncoder().encode(next));
      else if (end === 'close') controller.close();
      else controller.error(new TypeError('terminated'));
    },
  });
}

const stream = (pieces: string[], end: 'close' | 'break' = 'close', status = 200, headers: Record<string, string> = {}) => () => new Response(body(pieces, end), { status, headers: { ...SSE, ...headers } });

async function collect(answer: AnswerStream): Promise<StreamFrame[]> {
  const frames: StreamFrame[] = [];
  for await (const f of answer) frames.push(f);
  return frames;
}

async function failure(promise: Promise<unknown>): Promise<ChatApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChatApiError);
  return error as ChatApiError;
}

const quick = { reconnect: { initialDelayMs: 1, maxDelayMs: 2 } };

describe('the typed client reading the send stream', () => {
  it('yields typed frames in order and skips events it does not know', async () => {
    const server = scripted(stream([typing, 'id: x:1\nevent: test_message\ndata: {"counter":1}\n\n', ': ping\n\n', ...WHOLE.slice(1)]));
    const answer = sendMessage('http://127.0.0.1:9/', { content: 'One two three.' }, { fetch: server.fetch, headers: { 'x-anon-id': 'a' } });
    const frames = await collect(answer);
    expect(frames.map((f) => f.event)).toEqual(['assistant_typing', 'assistant_delta', 'assistant_delta', 'assistant_delta', 'assistant_complete', 'usage_info']);
    const text = frames.map((f) => (f.event === 'assistant_delta' ? f.data.delta : '')).join('');
    const last = frames.find((f) => f.event === 'assistant_complete');
    expect(last?.event === 'assistant_complete' && last.data.content).toBe(text);
    expect(answer).toMatchObject({ messageId: M, chatId: C, lastEventId: `${M}:6`, ended: true, finished: true, reconnects: 0 });

    const [request] = server.requests;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('http://127.0.0.1:9/api/v1/messages/send');
    expect(request.headers.get('x-anon-id')).toBe('a');
    expect(request.headers.get('accept')).toBe('text/event-stream');
    expect(await request.json()).toEqual({ content: 'One two three.' });
  });

  it('puts keep_generating in the body when asked, and asks for the headers on every request', async () => {
    let calls = 0;
    const server = scripted(stream([typing, delta(2, 'a')], 'break'), stream([delta(3, 'b'), complete(4, 'ab'), usage(5)]));
    const answer = sendMessage('', { content: 'ab' }, { ...quick, fetch: server.fetch, keepGenerating: true, headers: () => ({ authorization: `Bearer t${++calls}` }) });
    await collect(answer);
    expect(await server.requests[0].json()).toEqual({ content: 'ab', keep_generating: true });
    expect(server.requests.map((r) => r.headers.get('authorization'))).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it('turns a refusal with an assistant_error frame into a ChatApiError with Retry-After', async () => {
    const refusal = `event: assistant_error\ndata: ${JSON.stringify({ status_code: 429, code: 'RATE_LIMITED', request_id: 'req-1', retry_after_ms: 29_000, error: 'Too many requests', retryable: true })}\n\n`;
    const server = scripted(stream([refusal], 'close', 429, { 'retry-after': '30' }));
    const error = await failure(collect(sendMessage('', { content: 'x' }, { fetch: server.fetch })));
    expect(error).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryable: true, retryAfterMs: 30_000, requestId: 'req-1', message: 'Too many requests' });
    expect(error.details).toMatchObject({ retry_after_ms: 29_000 });
  });

  it('turns the JSON error body into a ChatApiError, and a proxy page into a retryable one', async () => {
    const server = scripted(
      () => Response.json({ status_code: 404, code: 'MESSAGE_NOT_FOUND', message: 'Message not found', request_id: 'req-2' }, { status: 404 }),
      () => new Response('<html>Bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }),
    );
    const notFound = await failure(stop('', M, { fetch: server.fetch }));
    expect(notFound).toMatchObject({ code: 'MESSAGE_NOT_FOUND', status: 404, retryable: false, message: 'Message not found', requestId: 'req-2' });
    expect(server.requests[0].url).toBe(`http://localhost/api/v1/messages/${M}/stop`);
    const proxy = await failure(collect(sendMessage('', { content: 'x' }, { fetch: server.fetch })));
    expect(proxy).toMatchObject({ code: 'INTERNAL_ERROR', status: 502, retryable: true });
  });

  it('reads the contract frames of a Response from elsewhere, and refuses data that is not JSON', async () => {
    const frames: StreamFrame[] = [];
    for await (const f of streamFrames(new Response(body(WHOLE), { headers: SSE }))) frames.push(f);
    expect(frames).toHaveLength(6);
    const broken = new Response(body([typing, 'event: assistant_delta\ndata: {not json\n\n']), { headers: SSE });
    const error = await failure((async () => { for await (const _ of streamFrames(broken)) { /* reading */ } })());
    expect(error.code).toBe('PROTOCOL_ERROR');
  });

  it('picks a dropped stream up after the last frame it saw, and yields every frame once', async () => {
    const seen: number[] = [];
    const server = scripted(
      stream([typing, delta(2, 'One '), delta(3, 'two ')], 'break'),
      // A server that replays more than asked: the client still yields each frame once.
      stream([delta(2, 'One '), delta(3, 'two '), delta(4, 'three.'), complete(5, 'One two three.'), usage(6)]),
    );
    const answer = sendMessage('', { content: 'x' }, { ...quick, fetch: server.fetch, onReconnect: (info) => seen.push(info.attempt) });
    const frames = await collect(answer);
    expect(frames.map((f) => f.id)).toEqual([1, 2, 3, 4, 5, 6].map((n) => `${M}:${n}`));
    expect(answer.reconnects).toBe(1);
    expect(seen).toEqual([1]);
    const again = server.requests[1];
    expect(again.method).toBe('GET');
    expect(again.url).toBe(`http://localhost/api/v1/messages/${M}/stream`);
    expect(again.headers.get('last-event-id')).toBe(`${M}:3`);
  });

  it('also reconnects when the stream ends cleanly before the last word, and waits out a 503', async () => {
    const server = scripted(
      stream([typing, delta(2, 'One ')]),
      () => Response.json({ status_code: 503, code: 'SHUTTING_DOWN', message: 'draining' }, { status: 503, headers: { 'retry-after': '0' } }),
      stream(WHOLE.slice(2)),
    );
    const frames = await collect(sendMessage('', { content: 'x' }, { ...quick, fetch: server.fetch }));
    expect(frames.map((f) => f.event).at(-2)).toBe('assistant_complete');
    expect(frames).toHaveLength(6);
    expect(server.requests.map((r) => r.headers.get('last-event-id'))).toEqual([null, `${M}:2`, `${M}:2`]);
  });

  it('gives up after its retries with what a later resume needs', async () => {
    const down = () => Promise.reject(new TypeError('fetch failed'));
    const server = scripted(stream([typing, delta(2, 'One ')], 'break'), down, down, down);
    const frames: StreamFrame[] = [];
    const error = await failure((async () => { for await (const f of sendMessage('', { content: 'x' }, { reconnect: { retries: 3, initialDelayMs: 1 }, fetch: server.fetch })) frames.push(f); })());
    expect(frames).toHaveLength(2);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', retryable: true, messageId: M, lastEventId: `${M}:2` });
    expect(server.requests).toHaveLength(4);
  });

  it('stops at a refusal of the resume that a retry cannot change', async () => {
    const gone = () => Response.json({ status_code: 404, code: 'MESSAGE_NOT_FOUND', message: 'Message not found' }, { status: 404 });
    const server = scripted(stream([typing], 'break'), gone, gone);
    const error = await failure(collect(sendMessage('', { content: 'x' }, { ...quick, fetch: server.fetch })));
    expect(error.code).toBe('MESSAGE_NOT_FOUND');
    expect(server.left()).toBe(1);
  });

  it('does not reconnect without a frame to resume from, nor when told not to', async () => {
    const early = scripted(stream([': ping\n\n'], 'break'), stream(WHOLE));
    const error = await failure(collect(sendMessage('', { content: 'x' }, { ...quick, fetch: early.fetch })));
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', messageId: undefined });
    expect(early.requests).toHaveLength(1);

    const off = scripted(stream([typing], 'break'), stream(WHOLE));
    expect((await failure(collect(sendMessage('', { content: 'x' }, { reconnect: false, fetch: off.fetch })))).messageId).toBe(M);
    expect(off.requests).toHaveLength(1);
  });

  it('ends after the last word when the server closes before usage_info', async () => {
    const server = scripted(stream(WHOLE.slice(0, 5)), stream(WHOLE));
    const answer = sendMessage('', { content: 'x' }, { ...quick, fetch: server.fetch });
    expect(await collect(answer)).toHaveLength(5);
    expect(answer).toMatchObject({ ended: true, finished: false });
    expect(server.requests).toHaveLength(1);
  });

  it('rejects with the abort reason when the caller aborts, without reconnecting', async () => {
    const controller = new AbortController();
    const server = scripted(stream([typing, delta(2, 'a'), delta(3, 'b'), delta(4, 'c')], 'break'), stream(WHOLE));
    const reason = new Error('user left');
    const answer = sendMessage('', { content: 'x' }, { ...quick, fetch: server.fetch, signal: controller.signal });
    const frames: StreamFrame[] = [];
    const error = await (async () => {
      for await (const f of answer) {
        frames.push(f);
        if (frames.length === 2) controller.abort(reason);
      }
    })().catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(server.requests).toHaveLength(1);
  });

  it('resumes a generation by id from a given frame, or from its start', async () => {
    const server = scripted(stream(WHOLE.slice(3)), stream(WHOLE));
    const rest = await collect(resume('', M, `${M}:3`, { fetch: server.fetch }));
    expect(rest.map((f) => f.id)).toEqual([4, 5, 6].map((n) => `${M}:${n}`));
    expect(server.requests[0].headers.get('last-event-id')).toBe(`${M}:3`);
    expect(await collect(resume('', M, undefined, { fetch: server.fetch }))).toHaveLength(6);
    expect(server.requests[1].headers.has('last-event-id')).toBe(false);
  });

  it('reads Retry-After in seconds and as a date', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    expect(parseRetryAfter(inAMinute)).toBeGreaterThan(55_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
