import http from 'node:http';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { documentSettled, uploadDocument } from '../support/documents.js';
import { registerUser, request } from '../support/http.js';
import { pdfWithContentStream } from '../support/pdf.js';

const MAX = 64 * 1024;
// One chunked upload reserves the largest file and its framing.
const CHUNKED_RESERVATION = MAX + 64 * 1024;
const BOUNDARY = 'xLimitsBoundary';
const partHead = (name = 'slow.txt') => Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`);
const partTail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, any>;
}

// A multipart upload written by hand: the test decides when each byte goes, and whether the
// body has a declared length (`length`) or is chunked.
function rawUpload(baseUrl: string, headers: Record<string, string>, length?: number) {
  const req = http.request(`${baseUrl}/api/v1/documents`, {
    method: 'POST',
    headers: { ...headers, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...(length === undefined ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(length) }) },
  });
  // The server may close the connection under the client's feet: expected.
  req.on('error', () => undefined);
  // The headers go at once, not with the first byte of the body.
  req.flushHeaders();
  const answer = new Promise<Answer>((resolve) => {
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(Buffer.concat(parts).toString() || '{}') }));
    });
  });
  let answered = false;
  void answer.then(() => (answered = true));
  return {
    answer,
    get answered() {
      return answered;
    },
    write: (data: Buffer | string) => req.write(data),
    end: (data?: Buffer) => req.end(data),
    abort: () => req.destroy(),
    // Writes `piece` every `everyMs` until the server answers.
    trickle(piece: Buffer, everyMs: number) {
      const timer = setInterval(() => {
        if (answered || req.destroyed) clearInterval(timer);
        else req.write(piece);
      }, everyMs);
      void answer.finally(() => clearInterval(timer));
    },
  };
}

describe('upload limits: bytes in flight and per-identity quotas', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        MAX_DOCUMENT_BYTES: String(MAX),
        // Room for one chunked upload, or one of the largest declared files.
        MAX_UPLOAD_BYTES_IN_FLIGHT: String(CHUNKED_RESERVATION),
        UPLOAD_MIN_BYTES_PER_SECOND: '0',
        ANON_DOCUMENT_LIMIT: '3',
        ANON_DOCUMENT_BYTES_LIMIT: '1000',
        USER_DOCUMENT_LIMIT: '1000',
        USER_DOCUMENT_BYTES_LIMIT: String(10 * 1024 * 1024),
        RATE_LIMIT_PER_MINUTE: '100000',
      },
    });
  });
  afterAll(() => t.close());

  it('refuses an upload that does not fit the bytes in flight at once with SERVER_BUSY, and takes it again once the others are done, however they ended', async () => {
    const user = await registerUser(t.baseUrl);
    const auth = { authorization: `Bearer ${user.token}` };
    const small = () => uploadDocument(t.baseUrl, auth, { name: 'small.txt', content: 'A small file.' });

    // A chunked upload holds the whole budget while it arrives.
    const holder = rawUpload(t.baseUrl, auth);
    holder.write(partHead());
    holder.write('some text, and more to come');
    // Once the server has taken it in, anything more is refused, before a byte of it is read.
    let refused: Awaited<ReturnType<typeof small>> | undefined;
    await expect
      .poll(async () => {
        refused = await small();
        return refused.status;
      }, { timeout: 5000, interval: 20 })
      .toBe(503);
    expect(refused!.body).toMatchObject({ status_code: 503, code: 'SERVER_BUSY', retry_after_ms: 2000 });
    expect(refused!.headers.get('retry-after')).toBe('2');
    expect(holder.answered).toBe(false);

    // The client gives up: its bytes are released.
    holder.abort();
    await expect.poll(async () => (await small()).status, { timeout: 5000, interval: 20 }).toBe(202);

    // One that completes releases them too, as soon as it is stored.
    const whole = rawUpload(t.baseUrl, auth);
    whole.write(partHead('whole.txt'));
    whole.end(Buffer.concat([Buffer.from('The whole of a chunked upload.'), partTail]));
    expect((await whole.answer).status).toBe(202);
    expect((await small()).status).toBe(202);
  });

  it('keeps a visitor to ANON_DOCUMENT_LIMIT documents and ANON_DOCUMENT_BYTES_LIMIT bytes with PAYLOAD_TOO_LARGE, an account to its own', async () => {
    const anon = { 'x-anon-id': crypto.randomUUID() };
    const file = (bytes: number) => ({ name: `f${bytes}.txt`, content: 'a'.repeat(bytes) });
    expect((await uploadDocument(t.baseUrl, anon, file(600))).status).toBe(202);
    // 600 + 600 > 1000: refused once its size is known.
    const overBytes = await uploadDocument(t.baseUrl, anon, file(600));
    expect(overBytes.status).toBe(413);
    expect(overBytes.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', max_total_bytes: 1000, total_bytes: 600, documents: 1, max_documents: 3 });
    expect(overBytes.body.message).toMatch(/ANON_DOCUMENT_BYTES_LIMIT/);
    expect((await uploadDocument(t.baseUrl, anon, file(300))).status).toBe(202);
    const third = await uploadDocument(t.baseUrl, anon, file(50));
    expect(third.status).toBe(202);

    // Three documents: a fourth is refused without its body being read.
    const body = Buffer.concat([partHead('fourth.txt'), Buffer.from('tiny'), partTail]);
    const fourth = rawUpload(t.baseUrl, anon, body.length);
    const refused = await fourth.answer;
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', max_documents: 3, documents: 3 });
    expect(refused.body.message).toMatch(/ANON_DOCUMENT_LIMIT/);
    fourth.end(body);

    // Deleting one makes room again.
    expect((await request(t.baseUrl, 'DELETE', `/api/v1/documents/${third.body.document.id}`, { headers: anon })).status).toBe(204);
    expect((await uploadDocument(t.baseUrl, anon, file(10))).status).toBe(202);
    expect((await request(t.baseUrl, 'GET', '/api/v1/documents', { headers: anon })).body.documents).toHaveLength(3);

    // An account's limits are its own (here: larger).
    const user = await registerUser(t.baseUrl);
    expect((await uploadDocument(t.baseUrl, { authorization: `Bearer ${user.token}` }, file(5000))).status).toBe(202);
  });
});

describe('upload limits: a body that arrives too slowly', () => {
  let deadline: TestApp;
  let rate: TestApp;
  beforeAll(async () => {
    [deadline, rate] = await Promise.all([
      startTestApp({ env: { MAX_DOCUMENT_BYTES: String(MAX), MAX_UPLOAD_BYTES_IN_FLIGHT: String(CHUNKED_RESERVATION), UPLOAD_TIMEOUT_MS: '1500', UPLOAD_MIN_BYTES_PER_SECOND: '0' } }),
      startTestApp({ env: { UPLOAD_TIMEOUT_MS: '60000', UPLOAD_MIN_BYTES_PER_SECOND: '2048' } }),
    ]);
  });
  afterAll(() => Promise.all([deadline.close(), rate.close()]));

  it('cuts an upload that is not whole within UPLOAD_TIMEOUT_MS with VALIDATION_ERROR, and releases its bytes', async () => {
    const anon = { 'x-anon-id': crypto.randomUUID() };
    const started = Date.now();
    const slow = rawUpload(deadline.baseUrl, anon);
    slow.write(partHead());
    slow.trickle(Buffer.from('0123456789'), 100);
    const answer = await slow.answer;
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION_ERROR', timeout_ms: 1500 });
    expect(answer.body.message).toMatch(/did not arrive within 1500 ms/);
    expect(answer.headers.connection).toBe('close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    // The budget (one chunked upload) is free again.
    expect((await uploadDocument(deadline.baseUrl, anon, { name: 'next.txt', content: 'Next one.' })).status).toBe(202);
  });

  it('cuts an upload that sends under UPLOAD_MIN_BYTES_PER_SECOND over a few seconds, and takes one that keeps up', async () => {
    const anon = { 'x-anon-id': crypto.randomUUID() };
    const body = Buffer.concat([partHead(), Buffer.alloc(50_000, 'a'), partTail]);
    const slow = rawUpload(rate.baseUrl, anon, body.length);
    slow.write(body.subarray(0, 200));
    // 400 bytes a second, a fifth of the minimum.
    let at = 200;
    const timer = setInterval(() => {
      if (slow.answered) return clearInterval(timer);
      slow.write(body.subarray(at, at + 100));
      at += 100;
    }, 250);
    const answer = await slow.answer;
    clearInterval(timer);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION_ERROR', min_bytes_per_second: 2048 });
    expect(answer.body.message).toMatch(/arrived too slowly/);
    slow.abort();
    expect((await uploadDocument(rate.baseUrl, anon, { name: 'fast.txt', content: 'word '.repeat(10_000) })).status).toBe(202);
  }, 15_000);

  it('fails a PDF that decompresses past MAX_PDF_DECODED_BYTES, or holds more text than its size allows, with a reason', async () => {
    const anon = { 'x-anon-id': crypto.randomUUID() };
    // 80 MiB of spaces in a file of about 80 KB.
    const bomb = pdfWithContentStream(deflateSync(Buffer.alloc(80 * 1024 * 1024, 0x20), { level: 9 }), '/FlateDecode');
    const lines = Array.from({ length: 20_000 }, (_, i) => `(${'word '.repeat(20)}) Tj 0 ${i % 2 ? 14 : -14} Td`);
    const dense = pdfWithContentStream(deflateSync(Buffer.from(['BT', '/F1 11 Tf', '56 760 Td', ...lines, 'ET'].join('\n')), { level: 9 }), '/FlateDecode');
    const [a, b] = await Promise.all([uploadDocument(rate.baseUrl, anon, { name: 'bomb.pdf', content: bomb }), uploadDocument(rate.baseUrl, anon, { name: 'dense.pdf', content: dense })]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(await documentSettled(rate.baseUrl, anon, a.body.document.id)).toMatchObject({ status: 'failed', chunk_count: 0, error: expect.stringMatching(/expands to more than 64 MB when decompressed/) });
    expect(await documentSettled(rate.baseUrl, anon, b.body.document.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/more text than a file of its size can/) });
  });
});
