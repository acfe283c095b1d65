import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { CLIENT_DIR, PUBLIC_DIR } from '../../src/web/static-files.js';
import { startTestApp, type TestApp } from '../support/app.js';

// How the app serves the web client's files: no browser needed.
describe('serving the web client', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const get = (p: string, init?: RequestInit) => fetch(t.baseUrl + p, init);

  it('serves the page at / and its files with their types, validators and no-cache', async () => {
    const require = createRequire(import.meta.url);
    const cases: [string, string, string][] = [
      ['/', 'text/html; charset=utf-8', path.join(PUBLIC_DIR, 'index.html')],
      ['/index.html', 'text/html; charset=utf-8', path.join(PUBLIC_DIR, 'index.html')],
      ['/js/main.js', 'text/javascript; charset=utf-8', path.join(PUBLIC_DIR, 'js/main.js')],
      ['/styles.css', 'text/css; charset=utf-8', path.join(PUBLIC_DIR, 'styles.css')],
      // The typed client as built, and the Markdown libraries as their packages ship them.
      ['/client/index.js', 'text/javascript; charset=utf-8', path.join(CLIENT_DIR, 'index.js')],
      ['/vendor/marked.esm.js', 'text/javascript; charset=utf-8', path.join(path.dirname(require.resolve('marked')), 'marked.esm.js')],
      ['/vendor/purify.es.mjs', 'text/javascript; charset=utf-8', path.join(path.dirname(require.resolve('dompurify')), 'purify.es.mjs')],
    ];
    for (const [url, type, file] of cases) {
      const res = await get(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toBe(await readFile(file, 'utf8'));

      const etag = res.headers.get('etag');
      expect(etag).toMatch(/^"[\w-]+"$/);
      const again = await get(url, { headers: { 'if-none-match': etag! } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
    }
    const page = await get('/');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const head = await get('/js/main.js', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(1000);
  });

  it('serves every module the page imports, following its imports from the page', async () => {
    const html = await (await get('/')).text();
    const entries = [...html.matchAll(/<script type="module" src="([^"]+)"/g)].map((m) => m[1]);
    expect(entries).toEqual(['/js/main.js']);
    const seen = new Set<string>();
    const queue = [...entries];
    while (queue.length > 0) {
      const url = queue.shift()!;
      if (seen.has(url)) continue;
      seen.add(url);
      const res = await get(url);
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type'), url).toBe('text/javascript; charset=utf-8');
      const source = await res.text();
      // Static imports and re-exports; every specifier is a same-origin path (no bare names, no CDN).
      for (const [, specifier] of source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm)) {
        expect(specifier, `${url} imports ${specifier}`).toMatch(/^(\/|\.\.?\/)/);
        queue.push(new URL(specifier, t.baseUrl + url).pathname);
      }
    }
    // The page's own modules, the typed client's and the two libraries.
    expect([...seen].filter((u) => u.startsWith('/js/')).length).toBeGreaterThanOrEqual(8);
    expect(seen).toContain('/client/index.js');
    expect(seen).toContain('/client/messages.js');
    expect(seen).toContain('/client/event-stream.js');
    expect(seen).toContain('/vendor/marked.esm.js');
    expect(seen).toContain('/vendor/purify.es.mjs');
  });

  it('never shadows the API, health, Socket.IO or unknown paths', async () => {
    const health = await get('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: expect.any(String) });
    const models = await get('/api/v1/models');
    expect(models.headers.get('content-type')).toMatch(/^application\/json/);
    // The browser client the page loads comes from the Socket.IO server itself.
    const sio = await get('/socket.io/socket.io.js');
    expect(sio.status).toBe(200);
    expect(sio.headers.get('content-type')).toMatch(/javascript/);

    for (const url of ['/nope.html', '/api/v1/index.html', '/health/index.html', '/internal/app.js', '/src/app.ts', '/app.js', '/client/index.d.ts', '/client/src/index.ts', '/vendor/marked.js', '/vendor/../package.json', '/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/public/index.html']) {
      const res = await get(url);
      expect(res.status, url).toBe(404);
      expect(res.headers.get('content-type'), url).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
    // Only GET and HEAD read files; other methods fall through to the router.
    const post = await get('/', { method: 'POST' });
    expect(post.status).toBe(404);
  });
});
