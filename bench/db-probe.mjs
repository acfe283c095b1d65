// The database row's instrument: a TCP proxy between our service and PostgreSQL that counts round
// trips, and the client that sends quiet single requests through the service and reads the
// transaction-id counter. Proxy and client share one process (and so one clock): the order of a
// burst of database traffic and the first delta is told apart by performance.now(), and nothing
// else loads the machine while it runs.
//
// A round trip is the client→server direction starting a new burst after server data, per
// connection (a connection's first burst counts too). The frontend protocol is decoded as it
// passes, so each burst also names the statements it carried.
//
//   node bench/db-probe.mjs '{"pgUrl":"postgres://..."}'
// prints {"type":"listening","port":N}; then {cmd:'measure', ...} on stdin answers {type:'result'}.
import net from 'node:net';
import pg from 'pg';
import { emit, onCommands, sendBody, sleep, visitor } from './lib/common.mjs';
import { makeAgent, stream } from './lib/sse-client.mjs';

const { pgUrl } = JSON.parse(process.argv[2] ?? '{}');
const upstream = new URL(pgUrl);
const bursts = [];
let lastActivity = performance.now();
let connections = 0;

// Reads frontend (client→server) messages from a connection's byte stream; returns the
// statements each chunk completed. Gives up quietly on anything it cannot follow (TLS).
class FrontendParser {
  constructor() {
    this.buffer = Buffer.alloc(0);
    this.startup = true;
    this.broken = false;
  }

  push(chunk) {
    if (this.broken) return [];
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out = [];
    for (;;) {
      if (this.startup) {
        if (this.buffer.length < 8) break;
        const length = this.buffer.readInt32BE(0);
        if (length < 8 || length > 10_000) {
          this.broken = true;
          break;
        }
        if (this.buffer.length < length) break;
        const code = this.buffer.readInt32BE(4);
        this.buffer = this.buffer.subarray(length);
        if (code === 196608) {
          this.startup = false;
          out.push('(startup)');
        } else if (code === 80877103 || code === 80877104) {
          out.push('(ssl request)');
        } else {
          out.push('(cancel)');
        }
        continue;
      }
      if (this.buffer.length < 5) break;
      const type = String.fromCharCode(this.buffer[0]);
      const length = this.buffer.readInt32BE(1);
      if (this.buffer.length < 1 + length) break;
      const body = this.buffer.subarray(5, 1 + length);
      this.buffer = this.buffer.subarray(1 + length);
      if (type === 'Q') out.push(statement(cstring(body, 0).text));
      else if (type === 'P') {
        const name = cstring(body, 0);
        out.push(statement(cstring(body, name.end + 1).text));
      } else if (type === 'p') out.push('(auth)');
    }
    return out;
  }
}

function cstring(buffer, start) {
  let end = buffer.indexOf(0, start);
  if (end === -1) end = buffer.length;
  return { text: buffer.toString('utf8', start, end), end };
}

const statement = (sql) => sql.replace(/\s+/g, ' ').trim().slice(0, 120);

const proxy = net.createServer((client) => {
  const id = ++connections;
  const server = net.connect(Number(upstream.port || 5432), upstream.hostname);
  client.setNoDelay(true);
  server.setNoDelay(true);
  const parser = new FrontendParser();
  let last = null;
  let current = null;
  client.on('data', (chunk) => {
    const t = performance.now();
    lastActivity = t;
    if (last !== 'c2s') {
      current = { t, conn: id, statements: [] };
      bursts.push(current);
    }
    last = 'c2s';
    current.statements.push(...parser.push(chunk));
    server.write(chunk);
  });
  server.on('data', (chunk) => {
    lastActivity = performance.now();
    // An 'S' answer to an SSL request: what follows is TLS, which this parser cannot read.
    if (last === 'c2s' && current.statements.at(-1) === '(ssl request)' && chunk[0] === 0x53) parser.broken = true;
    last = 's2c';
    client.write(chunk);
  });
  client.on('close', () => server.destroy());
  server.on('close', () => client.destroy());
  client.on('error', () => server.destroy());
  server.on('error', () => client.destroy());
});
proxy.listen(0, '127.0.0.1', () => emit({ type: 'listening', port: proxy.address().port }));

async function waitQuiet(quietMs, maxMs) {
  const start = performance.now();
  while (performance.now() - lastActivity < quietMs && performance.now() - start < maxMs) await sleep(20);
}

const classify = (list) => ({
  round_trips: list.length,
  statements: list.reduce((n, b) => n + b.statements.length, 0),
  commits: list.reduce((n, b) => n + b.statements.filter((s) => /^COMMIT\b/i.test(s)).length, 0),
});

async function measure({ host, port, path, turns, warmup, gapMs = 100, quietMs = 2000, deltas = 3 }) {
  const direct = new pg.Client({ connectionString: pgUrl });
  await direct.connect();
  // pg_current_xact_id() assigns an id to its own transaction; only write transactions get one.
  const xid = async () => BigInt((await direct.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x);
  const agent = makeAgent({ sockets: 2 });
  const anonId = visitor();
  const turn = async () => {
    const first = bursts.length;
    const handle = stream({
      host, port, path, agent, anonId: anonId(), body: sendBody({ deltas, interval: 0 }), expect: { kind: 'send', deltas },
      firstTimeoutMs: 10_000, totalTimeoutMs: 20_000,
    });
    const record = await handle.promise;
    const endedAt = performance.now();
    await waitQuiet(150, 2000);
    const mine = bursts.slice(first);
    const tFirst = record.firstDeltaMs === null ? Infinity : record.startedAt + record.firstDeltaMs;
    // Bursts that started before the request was sent belong to something else; reported apart.
    return {
      outcome: record.outcome,
      earlier: mine.filter((b) => b.t < record.startedAt),
      before: mine.filter((b) => b.t >= record.startedAt && b.t < tFirst),
      during: mine.filter((b) => b.t >= tFirst && b.t <= endedAt),
      after: mine.filter((b) => b.t > endedAt),
    };
  };

  for (let i = 0; i < warmup; i++) {
    await turn();
    await sleep(gapMs);
  }
  // What the service does on its own while nothing is asked of it.
  await waitQuiet(150, 2000);
  const idleFrom = bursts.length;
  await sleep(quietMs);
  const idle = bursts.slice(idleFrom);

  const xidBefore = await xid();
  const perTurn = [];
  let sample;
  for (let i = 0; i < turns; i++) {
    const t = await turn();
    perTurn.push({
      outcome: t.outcome,
      background: t.earlier.length,
      before_first_delta: classify(t.before),
      during_stream: classify(t.during),
      after_end: classify(t.after),
      total: t.before.length + t.during.length + t.after.length,
    });
    if (i === Math.floor(turns / 2)) {
      const show = (list) => list.map((b) => ({ conn: b.conn, at_ms: Math.round((b.t - list[0].t) * 100) / 100, statements: b.statements }));
      sample = { before_first_delta: show(t.before), during_stream: show(t.during), after_end: show(t.after) };
    }
    await sleep(gapMs);
  }
  const xidAfter = await xid();
  await direct.end();
  const advance = Number(xidAfter - xidBefore) - 1;
  emit({
    type: 'result',
    turns,
    outcomes: perTurn.reduce((m, t) => ({ ...m, [t.outcome]: (m[t.outcome] ?? 0) + 1 }), {}),
    xid_advance: advance,
    write_transactions_per_turn: Math.round((advance / turns) * 100) / 100,
    per_turn: perTurn,
    idle: { seconds: quietMs / 1000, round_trips: idle.length, statements: idle.flatMap((b) => b.statements).slice(0, 20) },
    sample_turn: sample,
    proxy_connections: connections,
  });
}

onCommands(async (command) => {
  if (command.cmd === 'measure') await measure(command);
});
