import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { documentSettled, uploadDocument } from '../support/documents.js';
import { request } from '../support/http.js';
import { makePdf } from '../support/pdf.js';
import { closeAllSockets, connectChats } from '../support/socket.js';
import { postSse, readSse } from '../support/sse.js';

const run = promisify(execFile);
const MAX = 64 * 1024;

// What an upload may be, and how the refusals look: by content, within MAX_DOCUMENT_BYTES.
describe('POST /api/v1/documents', () => {
  let t: TestApp;
  let dir: string;
  const anon = { 'x-anon-id': crypto.randomUUID() };

  beforeAll(async () => {
    t = await startTestApp({ env: { MAX_DOCUMENT_BYTES: String(MAX) } });
    dir = await mkdtemp(path.join(os.tmpdir(), 'uploads-'));
  });
  afterAll(async () => {
    closeAllSockets();
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses binary data with UNSUPPORTED_DOCUMENT (415), whatever its name and type say', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 7)]);
    for (const file of [
      { name: 'notes.md', content: png, type: 'text/markdown' },
      { name: 'report.pdf', content: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0, 0xff, 0xfe]), type: 'application/pdf' },
      { name: 'text.txt', content: Buffer.from('text\0with NUL'), type: 'text/plain' },
    ]) {
      const res = await uploadDocument(t.baseUrl, anon, file);
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({ status_code: 415, code: 'UNSUPPORTED_DOCUMENT' });
    }
    expect((await request(t.baseUrl, 'GET', '/api/v1/documents', { headers: anon })).body.documents).toEqual([]);
  });

  it('refuses a file over MAX_DOCUMENT_BYTES with PAYLOAD_TOO_LARGE (413), and one just under it is taken', async () => {
    const over = await uploadDocument(t.baseUrl, anon, { name: 'big.txt', content: 'a'.repeat(MAX + 1) });
    expect(over.status).toBe(413);
    expect(over.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', max_bytes: MAX });
    const under = await uploadDocument(t.baseUrl, anon, { name: 'fits.txt', content: 'word '.repeat(Math.floor(MAX / 5)) + 'x' });
    expect(under.status).toBe(202);
    expect(under.body.document.bytes).toBe(MAX);
  });

  it('stops reading an oversize body that has no Content-Length at the limit, while the client is still sending', async () => {
    // A chunked body that would never end: the answer can only come from a server that does not
    // wait for the end of it.
    const boundary = 'xBoundary';
    let sent = 0;
    const answer = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      const req = http.request(`${t.baseUrl}/api/v1/documents`, { method: 'POST', headers: { ...anon, 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } });
      const chunk = Buffer.alloc(16 * 1024, 'a');
      let done = false;
      const pump = () => {
        while (!done && req.write(chunk)) sent += chunk.length;
        if (!done) req.once('drain', () => setImmediate(pump));
      };
      req.on('response', (res) => {
        done = true;
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString(), sent }));
        res.on('error', reject);
      });
      // The server closes the connection under the client's feet: expected.
      req.on('error', () => undefined);
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="endless.txt"\r\nContent-Type: text/plain\r\n\r\n`);
      pump();
      setTimeout(() => reject(new Error(`no answer after sending ${sent} bytes`)), 10_000).unref();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).code).toBe('PAYLOAD_TOO_LARGE');
    // The client had sent little more than the limit (what sockets buffer) when it was answered.
    expect(answer.sent).toBeLessThan(MAX + 8 * 1024 * 1024);
  });

  it('refuses requests that are not a multipart upload with one "file"', async () => {
    const json = await request(t.baseUrl, 'POST', '/api/v1/documents', { body: { file: 'x' }, headers: anon });
    expect([json.status, json.body.code]).toEqual([400, 'VALIDATION_ERROR']);
    const noFile = new FormData();
    noFile.append('project_id', '');
    const res = await fetch(`${t.baseUrl}/api/v1/documents`, { method: 'POST', headers: anon, body: noFile });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/no "file" field/);
    const badProject = await uploadDocument(t.baseUrl, anon, { name: 'a.md', content: '# A' }, 'not-a-uuid');
    expect([badProject.status, badProject.body.code]).toEqual([400, 'VALIDATION_ERROR']);
    const wrongField = new FormData();
    wrongField.append('document', new Blob(['# A']), 'a.md');
    expect((await fetch(`${t.baseUrl}/api/v1/documents`, { method: 'POST', headers: anon, body: wrongField })).status).toBe(400);
  });

  it('takes an upload from curl -F as the README shows, HTML read by its markup', async () => {
    const file = path.join(dir, 'page.htm');
    await writeFile(file, '<!doctype html><html><head><title>P</title><script>var secret = "zebra";</script></head><body><h1>Tide tables</h1><p>High tide at Porthcawl is at 06:40 on Mondays.</p></body></html>');
    const project = await request(t.baseUrl, 'POST', '/api/v1/projects', { body: { name: 'Tides' }, headers: anon });
    const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', '-X', 'POST', `${t.baseUrl}/api/v1/documents`, '-H', `x-anon-id: ${anon['x-anon-id']}`, '-F', `file=@${file}`, '-F', `project_id=${project.body.project.id}`]);
    const [body, status] = stdout.split('\n');
    expect(status).toBe('202');
    const { document } = JSON.parse(body);
    expect(document).toMatchObject({ filename: 'page.htm', media_type: 'text/html', project_id: project.body.project.id });
    expect(await documentSettled(t.baseUrl, anon, document.id)).toMatchObject({ status: 'ready', chunk_count: 1 });

    const res = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'When is high tide at Porthcawl?', project_id: project.body.project.id }, anon);
    const sources = (await readSse(res).all()).find((f) => f.event === 'message_sources')!.data.sources;
    expect(sources[0]).toMatchObject({ filename: 'page.htm', metadata: { heading: 'Tide tables' } });
    expect(sources[0].content).toBe('Tide tables\n\nHigh tide at Porthcawl is at 06:40 on Mondays.');
    // The script's text was never read.
    const zebra = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'zebra secret', project_id: project.body.project.id }, anon);
    expect((await readSse(zebra).all()).find((f) => f.event === 'message_sources')!.data.sources).toEqual([]);
  });

  it('fails a PDF it cannot read with a reason, pushed as document_status and listed', async () => {
    const socket = await connectChats(t.baseUrl, { auth: { anon_id: anon['x-anon-id'] } });
    const from = socket.mark();
    const scanned = await uploadDocument(t.baseUrl, anon, { name: 'scan.pdf', content: makePdf([[], []]) });
    expect(scanned.status).toBe(202);
    const failed = await socket.waitFor('document_status', { from, where: (s) => s.document_id === scanned.body.document.id && s.status === 'failed', timeoutMs: 10_000 });
    expect(failed.error).toMatch(/no text to read/);
    expect(await documentSettled(t.baseUrl, anon, scanned.body.document.id)).toMatchObject({ status: 'failed', chunk_count: 0, error: failed.error });
    const broken = await uploadDocument(t.baseUrl, anon, { name: 'broken.pdf', content: Buffer.from('%PDF-1.7\n1 0 obj garbage') });
    expect(await documentSettled(t.baseUrl, anon, broken.body.document.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/could not be read/) });
  });
});
