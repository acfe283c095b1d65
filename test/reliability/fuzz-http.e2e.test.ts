import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  CONTENT_TYPES,
  contractProblem,
  deepNesting,
  dtoFieldNames,
  fillPath,
  fuzzParams,
  fuzzRuns,
  jsonText,
  MALFORMED_BODIES,
  parseFrames,
  rawRequest,
  registeredRoutes,
  shapedObject,
  stringValue,
  validValues,
  type FuzzIds,
  type HttpAnswer,
} from '../support/fuzz.js';
import { registerUser, request } from '../support/http.js';
import { postSse, readSse } from '../support/sse.js';

// Runs per route in CI (FUZZ_RUNS overrides; bench/fuzz.mjs runs many more).
const RUNS_PER_ROUTE = 40;
// How long a stream is read before the request is let go (test-sse may be asked for minutes).
const STREAM_READ_MS = 1500;
const INTERNAL_KEY = 'internal-key-0123456789abcdef';
const THREE_MB = JSON.stringify({ content: 'x'.repeat(3 * 1024 * 1024) });

// Every HTTP route Nest registered, fuzzed with fast-check against the booted app: adversarial
// JSON, malformed bodies, wrong content types, odd identities and ids. Every answer keeps the
// contract (see contractProblem): never a 500, always the envelope or one assistant_error frame
// with a contract code; a stream that completes is stored exactly as it was streamed.
describe('HTTP fuzzing', () => {
  let t: TestApp;
  let db: pg.Client;
  let token: string;
  let ids: FuzzIds;
  let fields: string[];
  const counts = new Map<string, number>();

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        ECHO_DELAY_MS: '0',
        INTERNAL_API_KEY: INTERNAL_KEY,
        RATE_LIMIT_PER_MINUTE: '10000000',
        ANON_MESSAGE_LIMIT: '10000000',
        ANON_IP_MESSAGE_LIMIT: '10000000',
        USER_INITIAL_CREDITS: '1000000000',
        MAX_CONCURRENT_GENERATIONS: '10000',
      },
    });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    token = (await registerUser(t.baseUrl)).token;
    const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'seed chat' }, { authorization: `Bearer ${token}` })).all();
    ids = { chatIds: [frames[0].data.chat_id], messageIds: [frames[0].data.message_id, frames[0].data.user_message_id] };
    fields = dtoFieldNames();
  });
  afterAll(async () => {
    console.info(`HTTP fuzzing: ${[...counts].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    await db?.end();
    await t?.close();
  });

  const headersArb = () =>
    fc.record(
      {
        identity: fc.constantFrom('none', 'user', 'anon', 'bad-anon', 'bad-bearer', 'alg-none', 'basic', 'empty-bearer', 'huge-bearer'),
        contentType: fc.constantFrom(...CONTENT_TYPES),
        lastEventId: fc.option(fc.oneof(fc.constantFrom(`${ids.messageIds[0]}:1`, `${ids.messageIds[0]}:-1`, `${ids.messageIds[0]}:1e400`, ':', 'x:y:z'), fc.string({ unit: 'grapheme-ascii', maxLength: 60 })), { nil: undefined }),
        requestId: fc.option(fc.string({ unit: 'grapheme-ascii', maxLength: 80 }), { nil: undefined }),
        encoding: fc.option(fc.constantFrom('gzip', 'br', 'deflate', 'identity', 'x-unknown'), { nil: undefined, freq: 8 }),
      },
      { requiredKeys: ['identity', 'contentType'] },
    );

  const bodyArb = () =>
    fc.oneof(
      { weight: 6, arbitrary: shapedObject(ids, fields, validValues(ids)) },
      { weight: 3, arbitrary: jsonText(ids, fields) },
      { weight: 2, arbitrary: fc.constantFrom(...MALFORMED_BODIES) },
      { weight: 1, arbitrary: deepNesting() },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
      { weight: 1, arbitrary: fc.constant(THREE_MB) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );

  const segmentArb = () =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...ids.messageIds, ...ids.chatIds) },
      { weight: 2, arbitrary: fc.uuid() },
      { weight: 2, arbitrary: stringValue(ids).map(encodeSegment) },
      { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%00', '%ED%A0%80', '%C0%AF', '..', '%2e%2e', '%2F', 'a%0Ab', '%FF%FE') },
    );

  const queryArb = () =>
    fc.array(
      fc.tuple(
        fc.constantFrom('count', 'interval_ms', 'page', 'limit', 'project_id', '__proto__', 'count[]', 'count[0]', 'constructor', ''),
        fc.oneof(fc.constantFrom('0', '1', '2', '50', '51', '-1', '1e400', 'NaN', '', '0x10', ' 3', '3 ', '1.5', '%00', '%ED%A0%80'), stringValue(ids).map(encodeSegment)),
      ),
      { maxLength: 4 },
    ).map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&')}` : ''));

  function headersFor(h: { identity: string; contentType: string; lastEventId?: string; requestId?: string; encoding?: string }, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = {};
    const identity: Record<string, Record<string, string>> = {
      none: {},
      user: { authorization: `Bearer ${token}` },
      anon: { 'x-anon-id': crypto.randomUUID() },
      'bad-anon': { 'x-anon-id': 'not-a-uuid' },
      'bad-bearer': { authorization: 'Bearer abc.def.ghi' },
      'alg-none': { authorization: `Bearer ${algNone()}` },
      basic: { authorization: 'Basic dXNlcjpwYXNz' },
      'empty-bearer': { authorization: 'Bearer ' },
      'huge-bearer': { authorization: `Bearer ${'a'.repeat(8000)}` },
    };
    Object.assign(headers, identity[h.identity]);
    if (hasBody && h.contentType) headers['content-type'] = h.contentType;
    if (h.lastEventId !== undefined) headers['last-event-id'] = headerSafe(h.lastEventId);
    if (h.requestId !== undefined) headers['x-request-id'] = headerSafe(h.requestId);
    if (h.encoding !== undefined && hasBody) headers['content-encoding'] = h.encoding;
    return headers;
  }

  async function send(method: string, path: string, headers: Record<string, string>, body: string | undefined): Promise<HttpAnswer> {
    const controller = new AbortController();
    const res = await fetch(t.baseUrl + path, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body, signal: controller.signal });
    const contentType = res.headers.get('content-type') ?? '';
    if (!contentType.startsWith('text/event-stream')) return { status: res.status, contentType, text: await res.text() };
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const deadline = setTimeout(() => controller.abort(), STREAM_READ_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // cut by the read budget: what arrived is checked
    } finally {
      clearTimeout(deadline);
    }
    return { status: res.status, contentType, text };
  }

  // A stream that ended with assistant_complete: the deltas joined are its content, and the
  // database holds exactly that text.
  async function checkStored(answer: HttpAnswer): Promise<void> {
    if (!answer.contentType.startsWith('text/event-stream')) return;
    const frames = parseFrames(answer.text);
    const complete = frames.find((f) => f.event === 'assistant_complete' || f.event === 'assistant_regenerated');
    if (!complete) return;
    const deltas = frames.filter((f) => f.event === 'assistant_delta' && f.data.message_id === complete.data.message_id).map((f) => f.data.delta).join('');
    expect(deltas).toBe(complete.data.content);
    const row = (await db.query('SELECT content, status FROM messages WHERE id = $1', [complete.data.message_id])).rows[0];
    expect(row).toEqual({ content: complete.data.content, status: 'complete' });
  }

  it('finds every route from Nest\'s router', () => {
    const routes = registeredRoutes(t.app).map((r) => `${r.method} ${r.path}`);
    for (const expected of [
      'POST /api/v1/auth/register', 'POST /api/v1/auth/login', 'GET /api/v1/auth/me', 'GET /api/v1/models', 'POST /api/v1/messages/send',
      'POST /api/v1/messages/regenerate', 'POST /api/v1/messages/:message_id/stop', 'GET /api/v1/messages/:message_id/stream',
      'GET /api/v1/messages/test-sse', 'POST /api/v1/messages/test-sse', 'GET /health', 'GET /health/live', 'GET /health/ready', 'POST /internal/emit',
    ]) {
      expect(routes).toContain(expected);
    }
  });

  it('answers every registered route within the contract, whatever it is sent', async () => {
    const routes = registeredRoutes(t.app);
    for (const route of routes) {
      const label = `${route.method} ${route.path}`;
      const arb = fc.record({
        segments: fc.array(segmentArb(), { minLength: 4, maxLength: 4 }),
        query: queryArb(),
        headers: headersArb(),
        body: bodyArb(),
        internalKey: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ segments, query, headers, body, internalKey }) => {
          const path = fillPath(route.path, segments) + query;
          const hasBody = body !== undefined && route.method !== 'GET';
          const sent = headersFor(headers, hasBody);
          if (internalKey) sent['x-internal-api-key'] = INTERNAL_KEY;
          const answer = await send(route.method, path, sent, hasBody ? body : undefined);
          counts.set(label, (counts.get(label) ?? 0) + 1);
          const problem = contractProblem(answer, path);
          if (problem) throw new Error(`${route.method} ${path}: ${problem}\n${answer.text.slice(0, 500)}`);
          await checkStored(answer);
        }),
        fuzzParams(RUNS_PER_ROUTE),
      );
    }
  }, timeoutFor(25));

  it('answers unknown paths and methods with the NOT_FOUND envelope', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        fc.oneof(fc.webPath(), fc.constantFrom('/api/v1/nope', '/api/v1/messages', '/api//v1/models', '/health/%00', '/internal', '/api/v1/auth/me/..%2f..%2fhealth', '/%ED%A0%80')),
        async (method, path) => {
          const answer = await send(method, path, { 'content-type': 'application/json', 'x-anon-id': crypto.randomUUID() }, method === 'GET' ? undefined : '{}');
          counts.set('unknown paths', (counts.get('unknown paths') ?? 0) + 1);
          const problem = contractProblem(answer, path);
          if (problem) throw new Error(`${method} ${path}: ${problem}\n${answer.text.slice(0, 300)}`);
        },
      ),
      fuzzParams(RUNS_PER_ROUTE * 2),
    );
  }, timeoutFor(2));

  it('answers what Node\'s HTTP parser refuses with the envelope too', async () => {
    const big = 'a'.repeat(t.config.maxHeaderBytes + 100);
    const cases: [string, string, number, string][] = [
      ['one huge header', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`, 413, 'PAYLOAD_TOO_LARGE'],
      ['many headers', `GET /health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 2000 }, (_, i) => `X-H${i}: 0123456789\r\n`).join('')}\r\n`, 413, 'PAYLOAD_TOO_LARGE'],
      ['a huge URL', `GET /health?${big} HTTP/1.1\r\nHost: x\r\n\r\n`, 413, 'PAYLOAD_TOO_LARGE'],
      ['NUL in a header', 'GET /health HTTP/1.1\r\nHost: x\r\nX-Anon-Id: a\0b\r\n\r\n', 400, 'VALIDATION_ERROR'],
      ['a bare LF header line', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: 1\nX-B: 2\r\n\r\n', 400, 'VALIDATION_ERROR'],
      ['not HTTP', 'GARBAGE\r\n\r\n', 400, 'VALIDATION_ERROR'],
      ['an unknown method', 'BREW /health HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'VALIDATION_ERROR'],
      ['HTTP/9.9', 'GET /health HTTP/9.9\r\nHost: x\r\n\r\n', 400, 'VALIDATION_ERROR'],
      ['Content-Length with Transfer-Encoding', 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'VALIDATION_ERROR'],
      ['two Content-Lengths', 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400, 'VALIDATION_ERROR'],
      ['a broken chunk size', 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 400, 'VALIDATION_ERROR'],
    ];
    for (const [what, bytes, status, code] of cases) {
      const answer = await rawRequest(t.port, bytes);
      counts.set('raw HTTP', (counts.get('raw HTTP') ?? 0) + 1);
      expect({ what, status: answer.status }).toEqual({ what, status });
      expect(contractProblem(answer), what).toBeUndefined();
      expect(JSON.parse(answer.text).code, what).toBe(code);
    }
    expect((await request(t.baseUrl, 'GET', '/health/live')).status).toBe(200);
  });

  it('refuses a 3 MB send body with 413 PAYLOAD_TOO_LARGE as one assistant_error frame', async () => {
    const res = await fetch(`${t.baseUrl}/api/v1/messages/send`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: THREE_MB });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const frames = parseFrames(await res.text());
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ event: 'assistant_error', data: { code: 'PAYLOAD_TOO_LARGE', status_code: 413, retryable: false } });
    const login = await request(t.baseUrl, 'POST', '/api/v1/auth/login', { body: THREE_MB });
    expect(login.status).toBe(413);
    expect(login.body).toMatchObject({ status_code: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('stores NUL-free, well-formed text: NUL in content is refused, lone surrogates are stored as U+FFFD, streamed as stored', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const nul = await fetch(`${t.baseUrl}/api/v1/messages/send`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{"content":"a\\u0000b"}' });
    expect(nul.status).toBe(400);
    expect(parseFrames(await nul.text())[0].data).toMatchObject({ code: 'VALIDATION_ERROR' });
    const lone = await fetch(`${t.baseUrl}/api/v1/messages/send`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{"content":"half \\ud83d and \\ude00 alone"}' });
    const answer = { status: lone.status, contentType: lone.headers.get('content-type') ?? '', text: await lone.text() };
    expect(contractProblem(answer)).toBeUndefined();
    const frames = parseFrames(answer.text);
    const complete = frames.find((f) => f.event === 'assistant_complete')!;
    expect(complete.data.content).toBe('half \uFFFD and \uFFFD alone');
    await checkStored(answer);
    const userRow = (await db.query('SELECT content FROM messages WHERE id = $1', [frames[0].data.user_message_id])).rows[0];
    expect(userRow.content).toBe('half \uFFFD and \uFFFD alone');
  });

  it('is left healthy: alive, nothing streaming, no INTERNAL_ERROR counted', async () => {
    expect((await request(t.baseUrl, 'GET', '/health/live')).status).toBe(200);
    expect((await request(t.baseUrl, 'GET', '/health/ready')).status).toBe(200);
    await expect.poll(async () => (await db.query(`SELECT count(*)::int AS n FROM messages WHERE status = 'streaming'`)).rows[0].n, { timeout: 10_000 }).toBe(0);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/chat_refusals_total\{code="INTERNAL_ERROR"\} [1-9]/);
    expect(fuzzRuns(RUNS_PER_ROUTE)).toBeGreaterThan(0);
  });
});

// Room for `surfaces` x the runs per surface, at 400 ms a request (streams are read for up
// to STREAM_READ_MS; most requests take a few ms).
function timeoutFor(surfaces: number): number {
  return Math.max(60_000, fuzzRuns(RUNS_PER_ROUTE) * surfaces * 400);
}

// A path segment as a client would write it: percent-encoded, lone surrogates as the invalid
// UTF-8 they would become.
function encodeSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return encodeURIComponent(value.replace(/[\uD800-\uDFFF]/g, '')) + '%ED%A0%80';
  }
}

// Header values fetch will send (it refuses control characters and non-Latin-1).
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '').trim();
}

function algNone(): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: crypto.randomUUID(), exp: 9_999_999_999 })}.`;
}
