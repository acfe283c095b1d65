import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { request } from '../support/http.js';
import { closeAllSockets, connectChats, connectError, untilDisconnected } from '../support/socket.js';
import { postSse, readSse } from '../support/sse.js';

const ALLOWED = 'http://localhost:5173';
const EVIL = 'http://example.org';

// An app with CORS_ORIGINS set, no INTERNAL_API_KEY and an anonymous quota of one message.
describe('Socket.IO /chats: origins, quota refusals, disabled internal API', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        CORS_ORIGINS: `${ALLOWED}, http://example.com`,
        ANON_MESSAGE_LIMIT: '1',
        ANON_IP_MESSAGE_LIMIT: '100000',
        RATE_LIMIT_PER_MINUTE: '100000',
        SOCKET_EVENTS_PER_MINUTE: '100000',
      },
    });
  });
  afterAll(async () => {
    closeAllSockets();
    await t.close();
  });

  describe('origins', () => {
    it('refuses a handshake from an origin that is not allowed, on both transports', async () => {
      const anon = crypto.randomUUID();
      for (const transports of [['polling'], ['websocket']]) {
        const error = await connectError(t.baseUrl, { transports, extraHeaders: { origin: EVIL }, auth: { anon_id: anon } });
        expect(error.message).not.toBe('');
        expect(['xhr poll error', 'websocket error']).toContain(error.message);
      }
    });

    it('refuses the plain engine.io handshake request from a bad origin with 403', async () => {
      const bad = await fetch(`${t.baseUrl}/socket.io/?EIO=4&transport=polling`, { headers: { origin: EVIL } });
      expect(bad.status).toBe(403);
      expect(bad.headers.get('access-control-allow-origin')).toBeNull();
      expect(await bad.json()).toMatchObject({ code: 4, message: 'Origin not allowed' });

      const good = await fetch(`${t.baseUrl}/socket.io/?EIO=4&transport=polling`, { headers: { origin: ALLOWED } });
      expect(good.status).toBe(200);
      expect(good.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(await good.text()).toMatch(/^0\{"sid":/);
    });

    it('accepts an allowed origin (polling and websocket) and a client that sends none', async () => {
      const anon = crypto.randomUUID();
      const polling = await connectChats(t.baseUrl, { transports: ['polling'], extraHeaders: { origin: ALLOWED, 'x-anon-id': anon } });
      expect(await polling.waitFor('usage_info')).toMatchObject({ anon_id: anon });
      expect(polling.socket.io.engine.transport.name).toBe('polling');
      expect(await polling.ask('list_chats', {})).toMatchObject({ chats: [], total: 0 });
      const ws = await connectChats(t.baseUrl, { extraHeaders: { origin: 'http://example.com' }, auth: { anon_id: anon } });
      expect(await ws.ask('ping', {})).toHaveProperty('timestamp');
      const bare = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
      expect(await bare.ask('ping')).toHaveProperty('timestamp');
    });
  });

  it('answers a payload over the bound with PAYLOAD_TOO_LARGE, drops one past the transport cap, and keeps serving the others', async () => {
    const anon = crypto.randomUUID();
    const big = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    const small = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    // MAX_CONTENT_CHARS is 32000: the bound is what an HTTP body may carry, about 208 kB; the
    // transport drops a connection at four times that.
    expect((await big.ask('send_message', { content: 'x'.repeat(300_000) })).error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const gone = untilDisconnected(big.socket);
    big.socket.emit('send_message', { content: 'x'.repeat(1_000_000) });
    expect(await gone).not.toBe('io client disconnect');
    expect(await small.ask('ping')).toHaveProperty('timestamp');
    expect((await request(t.baseUrl, 'GET', '/health')).status).toBe(200);
    // A large but allowed payload is still taken (and refused by the rules, not the transport).
    const ack = await small.ask('send_message', { content: 'y'.repeat(40_000) });
    expect(ack.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/32000/) });
  });

  it('pushes ANON_LIMIT_REACHED as assistant_error to every socket of the refused visitor only', async () => {
    const anon = crypto.randomUUID();
    const tab1 = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    const tab2 = await connectChats(t.baseUrl, { auth: { anon_id: anon } });
    const stranger = await connectChats(t.baseUrl, { auth: { anon_id: crypto.randomUUID() } });
    await Promise.all([tab1, tab2, stranger].map((s) => s.waitFor('usage_info')));

    const ok = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'my only message' }, { 'x-anon-id': anon });
    expect(ok.status).toBe(200);
    await readSse(ok).all();
    await tab1.waitFor('usage_info', { where: (u) => u.messages_remaining === 0 });
    const from1 = tab1.mark();
    const from2 = tab2.mark();
    const fromS = stranger.mark();

    // Refused over SSE: both tabs are told.
    const refused = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'one more' }, { 'x-anon-id': anon });
    expect(refused.status).toBe(429);
    expect((await readSse(refused).all())[0].data.code).toBe('ANON_LIMIT_REACHED');
    for (const [tab, from] of [[tab1, from1], [tab2, from2]] as const) {
      expect(await tab.waitFor('assistant_error', { from })).toMatchObject({ code: 'ANON_LIMIT_REACHED', retryable: false, error: expect.any(String) });
    }

    // Refused over the socket: ack and `error` for the sender, assistant_error to both tabs.
    const ack = await tab1.ask('send_message', { content: 'and another' });
    expect(ack.error.code).toBe('ANON_LIMIT_REACHED');
    expect(await tab1.waitFor('error', { from: from1 })).toMatchObject({ event: 'send_message', code: 'ANON_LIMIT_REACHED' });
    await Promise.all([tab1.ask('ping'), tab2.ask('ping'), stranger.ask('ping')]);
    expect(tab1.all('assistant_error', from1).map((e) => e.code)).toEqual(['ANON_LIMIT_REACHED', 'ANON_LIMIT_REACHED']);
    expect(tab2.all('assistant_error', from2).map((e) => e.code)).toEqual(['ANON_LIMIT_REACHED', 'ANON_LIMIT_REACHED']);
    expect(stranger.received.slice(fromS).map((r) => r.event)).toEqual(['pong']);
  });

  it('answers POST /internal/emit with 404 NOT_FOUND while INTERNAL_API_KEY is unset', async () => {
    for (const headers of [{}, { 'x-internal-api-key': 'any-key-0123456789abcdef' }] as Record<string, string>[]) {
      const res = await request(t.baseUrl, 'POST', '/internal/emit', { body: { target: { user_id: crypto.randomUUID() }, event: 'x' }, headers });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('NOT_FOUND');
    }
  });
});
