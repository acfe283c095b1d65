import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REQUEST_EVENTS } from '../../src/gateway/socket-events.js';
import { ChatsGateway } from '../../src/gateway/chats.gateway.js';
import { transportCap } from '../../src/gateway/socket-io.adapter.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { CONTRACT_CODES, dtoFieldNames, fuzzParams, fuzzRuns, jsonText, shapedObject, validValues, type FuzzIds } from '../support/fuzz.js';
import { registerUser, request } from '../support/http.js';
import { closeAllSockets, connectChats, untilDisconnected, type TestSocket } from '../support/socket.js';

// Runs per event in CI (FUZZ_RUNS overrides).
const RUNS_PER_EVENT = 40;
const ACK_TIMEOUT_MS = 5000;
// socket.io-client refuses to emit these itself (and the server's parser refuses them too).
const CLIENT_RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

// Every socket event the /chats namespace handles, and unknown ones, fuzzed: each emit with an
// acknowledgement gets one, with a result or {error: {code, message}} carrying a contract code
// (never INTERNAL_ERROR), and the connection stays up.
describe('Socket.IO fuzzing', () => {
  let t: TestApp;
  let db: pg.Client;
  let token: string;
  let ids: FuzzIds;
  let fields: string[];
  let sockets: TestSocket[];
  const counts = new Map<string, number>();

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        ECHO_DELAY_MS: '0',
        SOCKET_EVENTS_PER_MINUTE: '10000000',
        RATE_LIMIT_PER_MINUTE: '10000000',
        ANON_MESSAGE_LIMIT: '10000000',
        ANON_IP_MESSAGE_LIMIT: '10000000',
        USER_INITIAL_CREDITS: '1000000000',
        MAX_CONCURRENT_GENERATIONS: '10000',
        MAX_SOCKET_PAYLOAD_BYTES: '65536',
      },
    });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    token = (await registerUser(t.baseUrl)).token;
    sockets = [await connectChats(t.baseUrl, { auth: { token } }), await connectChats(t.baseUrl, { auth: { anon_id: crypto.randomUUID() } })];
    const sent = await sockets[0].ask('send_message', { content: 'seed chat' });
    ids = { chatIds: [sent.chat_id], messageIds: [sent.message_id] };
    fields = dtoFieldNames();
  });
  afterAll(async () => {
    console.info(`Socket.IO fuzzing: ${[...counts].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    closeAllSockets();
    await db?.end();
    await t?.close();
  });

  const payloadArb = () =>
    fc.oneof(
      { weight: 6, arbitrary: shapedObject(ids, fields, validValues(ids)).map(parse) },
      { weight: 3, arbitrary: jsonText(ids, fields).map(parse) },
      { weight: 1, arbitrary: fc.constantFrom(undefined, null, 0, -1, '', 'x', true, [], [[[]]], { chat_id: [ids.chatIds[0]] }) },
      { weight: 1, arbitrary: fc.integer({ min: 20, max: 3000 }).map(deep) },
      { weight: 1, arbitrary: fc.constantFrom(Buffer.from('binary'), { content: Buffer.alloc(16) }, [Buffer.alloc(1), { a: Buffer.alloc(2) }]) },
      { weight: 1, arbitrary: fc.constantFrom({ content: 'y'.repeat(70_000) }, 'z'.repeat(70_000), { content: 'w'.repeat(40_000), title: 'v'.repeat(40_000) }) },
    );

  const argsArb = () =>
    fc.oneof(
      { weight: 5, arbitrary: payloadArb().map((p): unknown[] => (p === undefined ? [] : [p])) },
      { weight: 1, arbitrary: fc.constant<unknown[]>([]) },
      { weight: 1, arbitrary: fc.tuple(payloadArb(), payloadArb()).map(([a, b]): unknown[] => [a ?? null, b ?? null]) },
    );

  // One emit with an ack: answered in time, with a result or a coded error, the socket still up.
  async function check(s: TestSocket, event: string, args: unknown[]): Promise<void> {
    let answer: any;
    try {
      answer = await s.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);
    } catch (error) {
      throw new Error(`"${event.slice(0, 40)}" was not acknowledged within ${ACK_TIMEOUT_MS} ms (${String(error)}); args ${preview(args)}`);
    }
    if (answer === null || typeof answer !== 'object') throw new Error(`"${event}" acked ${preview([answer])}`);
    if ('error' in answer) {
      if (!CONTRACT_CODES.has(answer.error?.code)) throw new Error(`"${event}" refused with code ${String(answer.error?.code)}`);
      if (answer.error.code === 'INTERNAL_ERROR') throw new Error(`"${event}" INTERNAL_ERROR for ${preview(args)}`);
      if (typeof answer.error.message !== 'string') throw new Error(`"${event}" refusal without message`);
    }
    if (!s.socket.connected) throw new Error(`"${event}" disconnected the socket; args ${preview(args)}`);
  }

  it('registers every event of the typed map', () => {
    const handled = t.app.get(ChatsGateway).handledEvents;
    expect([...handled].sort()).toEqual(Object.keys(REQUEST_EVENTS).sort());
  });

  it('acknowledges every handled event with a result or a coded error, whatever its payload', async () => {
    const events = t.app.get(ChatsGateway).handledEvents;
    for (const event of events) {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: sockets.length - 1 }), argsArb(), async (which, args) => {
          counts.set(event, (counts.get(event) ?? 0) + 1);
          await check(sockets[which], event, args);
        }),
        fuzzParams(RUNS_PER_EVENT),
      );
    }
  }, timeoutFor(12));

  it('acknowledges unknown events with VALIDATION_ERROR (or PAYLOAD_TOO_LARGE)', async () => {
    const handled = new Set(t.app.get(ChatsGateway).handledEvents);
    const name = fc
      .oneof(
        fc.constantFrom('unknown', 'error', 'message', 'chats_list', 'assistant_delta', 'usage_info ', 'PING', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'x'.repeat(2000), '\0', '\uD800', 'ping\0'),
        fc.string({ maxLength: 30 }),
      )
      .filter((e) => !handled.has(e) && !CLIENT_RESERVED.has(e));
    // Names an EventEmitter treats specially, every time, not only when drawn.
    for (const event of ['error', 'message', '__proto__', 'constructor']) {
      await check(sockets[0], event, [{}]);
      await check(sockets[0], event, []);
    }
    await fc.assert(
      fc.asyncProperty(name, argsArb(), async (event, args) => {
        counts.set('unknown events', (counts.get('unknown events') ?? 0) + 1);
        await check(sockets[0], event, args);
        const answer = await sockets[0].socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);
        expect(['VALIDATION_ERROR', 'PAYLOAD_TOO_LARGE']).toContain(answer.error.code);
      }),
      fuzzParams(RUNS_PER_EVENT * 3),
    );
  }, timeoutFor(6));

  it('answers a payload over MAX_SOCKET_PAYLOAD_BYTES with PAYLOAD_TOO_LARGE, keeping the connection', async () => {
    const s = sockets[0];
    const limit = t.config.maxSocketPayloadBytes;
    for (const event of ['send_message', 'rename_chat', 'ping', 'no_such_event']) {
      const answer = await s.ask(event, { content: 'x'.repeat(limit + 10), chat_id: ids.chatIds[0], title: 't' });
      expect(answer.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    }
    expect(s.socket.connected).toBe(true);
    expect(await s.ask('ping')).toHaveProperty('timestamp');
  });

  it('drops only the connection that sends past the transport cap; the server and other sockets go on', async () => {
    const victim = await connectChats(t.baseUrl, { auth: { anon_id: crypto.randomUUID() } });
    const gone = untilDisconnected(victim.socket);
    victim.socket.emit('ping', { content: 'x'.repeat(transportCap(t.config.maxSocketPayloadBytes) + 10) });
    expect(await gone).toMatch(/transport/);
    expect(await sockets[1].ask('ping')).toHaveProperty('timestamp');
  });

  it('closes a connection whose packets are not socket.io, without disturbing the others', async () => {
    for (const packet of ['2/chats,901["connect"]', '2/chats,902["disconnect"]', '2/chats,{not json', '2/chats,903[]', '9/chats,', '2/chats,904["newListener","x"]']) {
      const s = await connectChats(t.baseUrl, { auth: { anon_id: crypto.randomUUID() } });
      const gone = untilDisconnected(s.socket);
      (s.socket.io.engine as unknown as { write(data: string): void }).write(packet);
      await gone;
      counts.set('raw packets', (counts.get('raw packets') ?? 0) + 1);
    }
    expect(await sockets[0].ask('ping')).toHaveProperty('timestamp');
  });

  it('is left healthy: alive, nothing streaming, no generation ended with INTERNAL_ERROR, the counters right', async () => {
    for (const s of sockets) {
      for (const r of s.received.filter((x) => x.event === 'assistant_error' || x.event === 'error')) {
        expect(CONTRACT_CODES.has(r.data.code)).toBe(true);
        expect(r.data.code).not.toBe('INTERNAL_ERROR');
      }
    }
    expect((await request(t.baseUrl, 'GET', '/health/live')).status).toBe(200);
    await expect.poll(async () => (await db.query(`SELECT count(*)::int AS n FROM messages WHERE status = 'streaming'`)).rows[0].n, { timeout: 10_000 }).toBe(0);
    // A forged "disconnect" never reached the gateway: the two fuzzing sockets are still counted.
    expect((await request(t.baseUrl, 'GET', '/health')).body.active_sessions).toBe(2);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/chat_refusals_total\{code="INTERNAL_ERROR"\} [1-9]/);
  });
});

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function deep(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  // fast-check prints a counterexample recursively: give it a short name instead (the symbol
  // is not enumerable, so it is not sent).
  Object.defineProperty(value, fc.toStringMethod, { value: () => `deep(${depth})`, enumerable: false });
  return value;
}

function preview(args: unknown[]): string {
  try {
    return JSON.stringify(args, (_, v) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v))?.slice(0, 400) ?? String(args);
  } catch {
    return '(unprintable)';
  }
}

function timeoutFor(surfaces: number): number {
  return Math.max(60_000, fuzzRuns(RUNS_PER_EVENT) * surfaces * 300);
}
