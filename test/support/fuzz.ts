import type { INestApplication } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import fc from 'fast-check';
import net from 'node:net';
import { ErrorCode } from '../../src/common/errors/error-code.js';

// Shared by the fuzz suites (test/reliability/fuzz-*.test.ts) and bench/fuzz.mjs: what to
// throw at the app, and the contract every answer must keep.

// CI runs a fixed seed and count; bench/fuzz.mjs (or FUZZ_RUNS / FUZZ_SEED) runs longer.
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261202);
export const fuzzRuns = (ciRuns: number) => Number(process.env.FUZZ_RUNS ?? ciRuns);
export const fuzzParams = (ciRuns: number): fc.Parameters<unknown> => ({ seed: FUZZ_SEED, numRuns: fuzzRuns(ciRuns), endOnFailure: true, verbose: 1 });

export const CONTRACT_CODES = new Set<string>(Object.values(ErrorCode));

// Every route Nest registered on Express, as "METHOD /path/:param". Read from the router, so a
// route added tomorrow is fuzzed without touching the suite.
export function registeredRoutes(app: INestApplication): { method: string; path: string }[] {
  const express = app.getHttpAdapter().getInstance() as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } };
  const stack = express.router?.stack ?? express._router?.stack ?? [];
  const routes = stack
    .filter((layer) => layer.route && typeof layer.route.path === 'string')
    .flatMap((layer) => {
      const methods = Object.keys(layer.route!.methods).map((m) => m.toUpperCase());
      // A route for every method (middleware mounted with forRoutes ALL): the ones clients use.
      const used = methods.length > 10 ? ['GET', 'POST', 'PUT', 'DELETE'] : methods.filter((m) => FUZZED_METHODS.has(m));
      return used.map((method) => ({ method, path: layer.route!.path }));
    });
  return [...new Map(routes.map((r) => [`${r.method} ${r.path}`, r])).values()];
}

const FUZZED_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

// Replaces ":param" and "{*rest}" in an Express path with the given segments, in order.
export function fillPath(template: string, segments: string[]): string {
  let i = 0;
  return template.replace(/\{\*[A-Za-z0-9_]+\}|:[A-Za-z0-9_]+/g, () => segments[i++ % segments.length]);
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

// Every property any DTO validates (class-validator's metadata): the fields near-valid bodies
// and payloads are built from, so a DTO added tomorrow is covered too.
export function dtoFieldNames(): string[] {
  const storage = getMetadataStorage() as unknown as { validationMetadatas?: Map<unknown, { propertyName: string }[]> };
  const names = new Set<string>(['content', 'chat_id', 'message_id', 'model', 'title', 'email', 'password']);
  // Upper-case names are the environment's (config), not a request's.
  for (const list of storage.validationMetadatas?.values() ?? []) for (const m of list) if (!/^[A-Z0-9_]+$/.test(m.propertyName)) names.add(m.propertyName);
  return [...names].sort();
}

// ---------------------------------------------------------------------------------------------
// Values

export interface FuzzIds {
  // Real ids of the fuzzing identity (a chat, its messages), so near-valid requests go deep.
  chatIds: string[];
  messageIds: string[];
}

const EDGE_STRINGS = [
  '', ' ', '\0', 'a\0b', '\0'.repeat(64), '\uD800', 'x\uDC00y', '\uDBFF\uDBFF', '\uD83D\uDE00', '\uFFFF', '\uFEFF', '\u202E', '\r\n', '\n\n\n',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'null', 'undefined', 'true', '0', '-1', '1e309', 'NaN', 'Infinity',
  "'; DROP TABLE messages; --", '$1', '%00', '%s%s%s', '../../../../etc/passwd', '<script>alert(1)</script>', '{{7*7}}', '${7*7}',
  'echo', 'claude-sonnet-5', 'gpt-4', 'event: assistant_complete\ndata: {}\n\n', ': ping', 'id: x:1',
  '00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-4FFF-8FFF-FFFFFFFFFFFF', 'not-a-uuid', 'a@b.c', 'x'.repeat(65), 'x'.repeat(101), 'x'.repeat(4097),
];

const EDGE_NUMBER_TEXTS = [
  '0', '-0', '1', '-1', '0.5', '1.0000001', '100', '101', '9007199254740991', '9007199254740993', '-9007199254740993', '1e308', '-1e308',
  '1e400', '-1e400', '5e-324', '1e-400', '2147483647', '2147483648', '-2147483649', '18446744073709551616', '123456789012345678901234567890',
  '0.1', '1e0', '1E2', '50', '51', '5000', '5001', '1000000', '1000001',
];

const jsonString = (s: string) => JSON.stringify(s);

export function stringValue(ids: FuzzIds): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...EDGE_STRINGS) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...ids.chatIds, ...ids.messageIds) },
    // Lone surrogates and NUL inside otherwise ordinary text.
    { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom('\0', '\uD800', '\uDFFF', '\uDBFF'), fc.string({ maxLength: 20 })).map(([a, b, c]) => a + b + c) },
    // Long strings: around MAX_CONTENT_CHARS and past it.
    { weight: 1, arbitrary: fc.constantFrom(31_999, 32_000, 32_001, 70_000).map((n) => 'w '.repeat(n / 2)) },
  );
}

// JSON text, built by hand so that it can hold what JSON.stringify never writes: duplicate and
// "__proto__" keys, numbers past a double's range, -0.
export function jsonText(ids: FuzzIds, fields: string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...fields) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '', ' ', '\0', '\uD800') },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );
  const { value } = fc.letrec<{ value: string; leaf: string; array: string; object: string }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('leaf'), tie('array'), tie('object')),
    leaf: fc.oneof(
      stringValue(ids).map(jsonString),
      fc.constantFrom(...EDGE_NUMBER_TEXTS),
      fc.double().filter(Number.isFinite).map(String),
      fc.integer().map(String),
      fc.constantFrom('true', 'false', 'null'),
    ),
    array: fc.array(tie('value'), { maxLength: 5 }).map((xs) => `[${xs.join(',')}]`),
    object: fc.array(fc.tuple(key.map(jsonString), tie('value')), { maxLength: 6 }).map((kv) => `{${kv.map(([k, v]) => `${k}:${v}`).join(',')}}`),
  }));
  return value;
}

// A near-valid object: a few known fields, each with a valid-looking or an adversarial value.
export function shapedObject(ids: FuzzIds, fields: string[], valid: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<string> {
  const anyValue = jsonText(ids, fields);
  const entry = fc.constantFrom(...fields).chain((field) =>
    fc.tuple(fc.constant(field), valid[field] ? fc.oneof(valid[field].map((v) => JSON.stringify(v)), anyValue) : anyValue),
  );
  return fc.uniqueArray(entry, { maxLength: 6, selector: ([k]) => k }).map((kv) => `{${kv.map(([k, v]) => `${jsonString(k)}:${v}`).join(',')}}`);
}

// Valid-looking values per field, so that some requests get past validation and run.
export function validValues(ids: FuzzIds): Record<string, fc.Arbitrary<unknown>> {
  const text = fc.oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constantFrom('hello there', 'a\uD800b', 'smile \uD83D\uDE00 ok', 'tab\tand\nnewline'));
  const ownId = fc.constantFrom(...ids.chatIds, ...ids.messageIds);
  return {
    content: text,
    title: text,
    name: text,
    chat_id: ownId,
    message_id: ownId,
    model: fc.constantFrom('echo', 'nope'),
    temperature: fc.double({ min: 0, max: 1, noNaN: true }),
    max_tokens: fc.integer({ min: 1, max: 64 }),
    client_message_id: fc.string({ minLength: 1, maxLength: 64 }),
    keep_generating: fc.boolean(),
    page: fc.integer({ min: 0, max: 3 }),
    limit: fc.integer({ min: 1, max: 100 }),
    email: fc.emailAddress(),
    password: fc.string({ minLength: 8, maxLength: 30 }),
    event: fc.constantFrom('notice', 'connect', 'chat_created', 'x'.repeat(70)),
    target: fc.oneof(fc.constant({ chat_id: ids.chatIds[0] }), fc.record({ user_id: fc.uuid() }), fc.constant({})),
  };
}

// Bodies that are not JSON, or JSON at the edges of what a parser takes.
export const MALFORMED_BODIES = [
  '{', '}', '{"content":', '{"content": "x",}', "{'content': 'x'}", '{content: "x"}', 'NaN', 'undefined', '\0', '{"content": "x"}garbage',
  '{"a":1}{"b":2}', '[]', '""', 'null', 'true', '1', '-', '{"content": "\\ud800"}', '{"content": "\\u0000"}', '{"content": "\\x41"}',
  '\uFEFF{"content": "bom"}', '{"content": "x", "content": 5}', '{"__proto__": {"content": "polluted"}}', '{"constructor": {"prototype": {"x": 1}}}',
  '\xff\xfe{\x00}', '   ', '\n', '{"content": 1e400}', '{"max_tokens": 1e400}', '{"temperature": -0}', '{"page": 1e400}',
];

export function deepNesting(): fc.Arbitrary<string> {
  return fc.tuple(fc.integer({ min: 20, max: 20_000 }), fc.boolean(), fc.boolean()).map(([depth, arrays, inField]) => {
    const deep = arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    return inField ? `{"content":"x","chat_id":${deep}}` : deep;
  });
}

export const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json; charset=latin1',
  'application/json; charset=utf-16', 'application/json; charset=nope', 'application/vnd.api+json', 'application/*', 'text/plain',
  'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'multipart/form-data',
  'application/octet-stream', 'text/event-stream', '', 'json', ';;;',
];

// ---------------------------------------------------------------------------------------------
// The oracle

export interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
}

// What every HTTP answer must be: never a 500; an error status carries the envelope (JSON) or,
// on a streaming route, one assistant_error frame; every frame of a stream parses, and an
// assistant_error frame has a contract code that is not INTERNAL_ERROR.
// The AI SDK route answers in the SDK's own forms: refusals as text "<CODE>: <message>", the
// stream as `data:` chunks ending with `data: [DONE]`, failures as `error` chunks whose errorText
// starts with the code.
// (A refusal made before the route is reached, e.g. headers over their limit, is the envelope.)
function aiSdkProblem(answer: HttpAnswer): string | undefined {
  const { status, contentType, text } = answer;
  const codeOf = (value: string) => /^([A-Z_]+): /.exec(value)?.[1];
  if (status >= 400) {
    if (contentType.startsWith('application/json')) return envelopeProblem(answer);
    if (!contentType.startsWith('text/plain')) return `AI SDK refusal with content-type "${contentType}"`;
    const code = codeOf(text);
    if (!code || !CONTRACT_CODES.has(code)) return `AI SDK refusal text without a contract code: ${text.slice(0, 80)}`;
    if (code === ErrorCode.INTERNAL_ERROR) return 'AI SDK refusal INTERNAL_ERROR';
    return undefined;
  }
  if (!contentType.startsWith('text/event-stream')) return undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    let chunk: { type?: string; errorText?: string };
    try {
      chunk = JSON.parse(line.slice(6)) as { type?: string; errorText?: string };
    } catch {
      return `unparseable UI message chunk: ${line.slice(0, 80)}`;
    }
    if (chunk.type === 'error') {
      const code = codeOf(chunk.errorText ?? '');
      if (!code || !CONTRACT_CODES.has(code) || code === ErrorCode.INTERNAL_ERROR) return `error chunk ${String(chunk.errorText).slice(0, 80)}`;
    }
  }
  return undefined;
}

export function contractProblem(answer: HttpAnswer, path = ''): string | undefined {
  const { status, contentType, text } = answer;
  if (status >= 500 && status !== 503) return `status ${status}`;
  if (/^\/api\/v1\/chat(\/|\?|$)/.test(path)) return aiSdkProblem(answer);
  if (contentType.startsWith('text/event-stream')) {
    let frames: { event: string; data: any }[];
    try {
      frames = parseFrames(text);
    } catch (error) {
      return `unparseable SSE: ${String(error)}`;
    }
    for (const frame of frames) {
      if (frame.event !== 'assistant_error') continue;
      if (!CONTRACT_CODES.has(frame.data?.code)) return `assistant_error with code ${String(frame.data?.code)}`;
      if (frame.data.code === ErrorCode.INTERNAL_ERROR) return 'assistant_error INTERNAL_ERROR';
      if (typeof frame.data.error !== 'string' || typeof frame.data.retryable !== 'boolean') return 'assistant_error without error/retryable';
    }
    if (status >= 400) {
      if (frames.length !== 1 || frames[0].event !== 'assistant_error') return `refusal on a stream is not one assistant_error frame (${frames.length})`;
      if (frames[0].data.status_code !== status) return 'refusal frame status_code differs from the status';
    }
    return undefined;
  }
  if (status < 400) return undefined;
  if (!contentType.startsWith('application/json')) return `error status ${status} with content-type "${contentType}"`;
  return envelopeProblem(answer);
}

function envelopeProblem({ status, text }: HttpAnswer): string | undefined {
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return 'error body is not JSON';
  }
  if (body?.status_code !== status) return `envelope status_code ${body?.status_code} for status ${status}`;
  if (!CONTRACT_CODES.has(body.code)) return `envelope code ${String(body.code)}`;
  if (body.code === ErrorCode.INTERNAL_ERROR) return 'INTERNAL_ERROR';
  if (typeof body.message !== 'string' || typeof body.request_id !== 'string') return 'envelope without message/request_id';
  return undefined;
}

export function parseFrames(text: string): { id?: string; event: string; data: any }[] {
  const frames: { id?: string; event: string; data: any }[] = [];
  for (const block of text.split('\n\n')) {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':') || line === '') continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    // A block cut by the reader's time budget is not a frame yet.
    if (data.length === 0) continue;
    frames.push({ id, event, data: JSON.parse(data.join('\n')) });
  }
  return frames;
}

// Sends a request as raw bytes (for what fetch refuses to send: NUL in headers, broken request
// lines, lying Content-Length) and reads the answer until the server closes or `timeoutMs`.
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<HttpAnswer & { raw: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const raw = all.toString('utf8');
      const headEnd = all.indexOf('\r\n\r\n');
      const head = headEnd === -1 ? raw : all.subarray(0, headEnd).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: *([^\r\n]*)/i.exec(head)?.[1] ?? '';
      let bodyBytes: Buffer = headEnd === -1 ? Buffer.alloc(0) : all.subarray(headEnd + 4);
      if (/\r\ntransfer-encoding: *chunked/i.test(head)) bodyBytes = unchunk(bodyBytes);
      const body = bodyBytes.toString('utf8');
      resolve({ status, contentType, text: body, raw });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const raw = Buffer.concat(chunks).toString('utf8');
      const end = raw.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(raw.slice(0, end))?.[1];
      if (end !== -1 && length !== undefined && Buffer.byteLength(raw.slice(end + 4)) >= Number(length)) finish();
    });
    socket.on('end', finish);
    socket.on('error', (error) => (chunks.length > 0 ? finish() : reject(error)));
    socket.write(bytes);
  });
}

function unchunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let rest = body;
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line === -1) return Buffer.concat(out);
    const size = Number.parseInt(rest.subarray(0, line).toString('latin1'), 16);
    if (!size) return Buffer.concat(out);
    out.push(rest.subarray(line + 2, line + 2 + size));
    rest = rest.subarray(line + 2 + size + 2);
  }
}
