import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

// helmet's headers on every kind of response the service gives: JSON, an SSE stream, the web
// page and the files the Socket.IO server answers itself; and what a browser app on another
// origin may read (x-anon-id, x-request-id, Retry-After).

const ORIGIN = 'http://127.0.0.1:5173';

function expectSecurityHeaders(res: Response, what: string) {
  const h = res.headers;
  expect(h.get('x-content-type-options'), what).toBe('nosniff');
  expect(h.get('x-frame-options'), what).toBe('DENY');
  expect(h.get('referrer-policy'), what).toBe('no-referrer');
  expect(h.get('strict-transport-security'), what).toBe('max-age=31536000');
  expect(h.get('cross-origin-opener-policy'), what).toBe('same-origin');
  expect(h.get('x-dns-prefetch-control'), what).toBe('off');
  expect(h.get('x-powered-by'), what).toBeNull();
  const csp = h.get('content-security-policy') ?? '';
  expect(csp, what).toContain("default-src 'self'");
  expect(csp, what).toContain("script-src 'self'");
  expect(csp, what).toContain("frame-ancestors 'none'");
  // helmet's default would add it, and a page served over plain http would then break.
  expect(csp, what).not.toContain('upgrade-insecure-requests');
}

describe('security headers', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: ORIGIN, RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: 'true' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('are on a JSON answer, an error, an SSE stream and the page', async () => {
    const json = await fetch(`${t.baseUrl}/api/v1/models`);
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expectSecurityHeaders(json, 'JSON');
    expect(json.headers.get('cross-origin-resource-policy')).toBe('same-origin');

    const notFound = await fetch(`${t.baseUrl}/api/v1/nothing-here`);
    expect(notFound.status).toBe(404);
    expectSecurityHeaders(notFound, '404');

    const sse = await fetch(`${t.baseUrl}/api/v1/messages/test-sse?count=1&interval_ms=0`);
    expect(sse.status).toBe(200);
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expectSecurityHeaders(sse, 'SSE');
    expect(await sse.text()).toContain('event: test_complete');

    const page = await fetch(`${t.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expectSecurityHeaders(page, 'page');
  });

  it('are on what the Socket.IO server answers itself: its client script and the polling transport', async () => {
    const script = await fetch(`${t.baseUrl}/socket.io/socket.io.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expectSecurityHeaders(script, 'socket.io.js');
    // Apps on other origins may load the client script from here.
    expect(script.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    await script.arrayBuffer();

    const handshake = await fetch(`${t.baseUrl}/socket.io/?EIO=4&transport=polling`);
    expect(handshake.status).toBe(200);
    expect(await handshake.text()).toMatch(/^0\{"sid":/);
    expectSecurityHeaders(handshake, 'polling handshake');
  });

  it('lets a browser app on an allowed origin read x-anon-id, x-request-id and Retry-After', async () => {
    // An address of its own: the other tests' requests count against theirs.
    const login = () =>
      fetch(`${t.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { origin: ORIGIN, 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.77' },
        body: JSON.stringify({ email: 'nobody@example.com', password: 'wrong wrong wrong' }),
      });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 3; i++) {
      const res = await login();
      statuses.push(res.status);
      await res.arrayBuffer();
      if (res.status === 429) limited = res;
    }
    expect(statuses).toEqual([401, 401, 429]);
    expect(limited!.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const exposed = (limited!.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(',').map((s) => s.trim());
    expect(exposed).toEqual(expect.arrayContaining(['x-anon-id', 'x-request-id', 'retry-after']));
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    expectSecurityHeaders(limited!, '429');
  });
});
