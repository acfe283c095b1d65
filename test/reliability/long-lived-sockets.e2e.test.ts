import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { registerUser } from '../support/http.js';
import { chatsSocket, closeAllSockets, connectChats, connectError, untilConnected, untilDisconnected } from '../support/socket.js';

describe('long-lived sockets', () => {
  afterAll(() => closeAllSockets());

  describe('a token that expires while its socket is connected', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ env: { JWT_EXPIRES_IN: '2s', SOCKET_GENERATION_GRACE_MS: '0' } });
    });
    afterAll(async () => t?.close());

    it('stops being honoured: the socket is told UNAUTHORIZED and disconnected, and cannot come back with it', async () => {
      const { token } = await registerUser(t.baseUrl);
      const s = await connectChats(t.baseUrl, { auth: { token } });
      expect(await s.ask('ping')).toHaveProperty('timestamp');
      const gone = untilDisconnected(s.socket, 5000);
      const told = s.waitFor('error', { where: (e) => e.code === 'UNAUTHORIZED', timeoutMs: 5000 });
      expect(await told).toMatchObject({ event: 'session', code: 'UNAUTHORIZED' });
      expect(await gone).toBe('io server disconnect');
      // Reconnecting with the same token is refused at the handshake.
      const refused = await connectError(t.baseUrl, { auth: { token } });
      expect(refused.message).toBe('UNAUTHORIZED');
      // An anonymous socket has no token to expire.
      const anon = await connectChats(t.baseUrl, { auth: { anon_id: crypto.randomUUID() } });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(anon.socket.connected).toBe(true);
      expect(await anon.ask('ping')).toHaveProperty('timestamp');
    });
  });

  describe('a flood of connections from one address', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ env: { SOCKET_CONNECTIONS_PER_MINUTE: '5' } });
    });
    afterAll(async () => t?.close());

    it('is refused at the handshake with RATE_LIMITED past SOCKET_CONNECTIONS_PER_MINUTE, open sockets untouched', async () => {
      const first = await connectChats(t.baseUrl, { auth: { anon_id: crypto.randomUUID() } });
      for (let i = 0; i < 4; i++) await connectChats(t.baseUrl, { auth: { anon_id: crypto.randomUUID() } });
      const refused = await connectError(t.baseUrl, { auth: { anon_id: crypto.randomUUID() } });
      expect(refused.message).toBe('RATE_LIMITED');
      expect(refused.data).toMatchObject({ code: 'RATE_LIMITED' });
      expect(refused.data.retry_after_ms).toBeGreaterThan(0);
      // A signed-in user from the same address is counted by address too: minting identities does not help.
      const { token } = await registerUser(t.baseUrl);
      const s = chatsSocket(t.baseUrl, { auth: { token } });
      await expect(untilConnected(s.socket)).rejects.toThrow('RATE_LIMITED');
      s.close();
      expect(await first.ask('ping')).toHaveProperty('timestamp');
      expect(await (await fetch(`${t.baseUrl}/metrics`)).text()).toMatch(/chat_refusals_total\{code="RATE_LIMITED"\} [1-9]/);
    });
  });
});
