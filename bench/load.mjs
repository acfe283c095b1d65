// A load generator: a process of its own that opens streams or sockets against one server, times
// them with performance.now() and reports JSON lines on stdout ({type: 'ready' | 'progress' |
// 'result', ...}); commands come as JSON lines on stdin ({cmd: 'stop'}, {cmd: 'check'}).
//
//   node bench/load.mjs <mode> '<options as JSON>'
//
// Modes:
//   seq      one request at a time against each target in turn (order alternating every round)
//   streams  n streams at once (spread over rampMs); with keep, each one that ends is replaced,
//            until {cmd:'stop'} or durationMs; without, until all have ended
//   turns    `clients` loops, each starting its next turn when the previous one has ended
//   sockets  socket.io-client connections to /chats, held open until {cmd:'stop'}
import { randomUUID } from 'node:crypto';
import { emit, exitWhenFlushed, onCommands, sendBody, sleep, stats, visitor } from './lib/common.mjs';
import { makeAgent, stream, Tally } from './lib/sse-client.mjs';

const [mode, json] = process.argv.slice(2);
const opts = JSON.parse(json ?? '{}');
const commands = new Map();
onCommands((command) => commands.get(command.cmd)?.(command));

// The request of one turn against a target {host, port, path, method?, kind?}.
function requestSpec(target, options, agent, anonId) {
  const kind = target.kind ?? 'send';
  const spec = {
    host: target.host,
    port: target.port,
    path: target.path,
    method: target.method ?? (kind === 'send' ? 'POST' : 'GET'),
    agent,
    anonId,
    firstTimeoutMs: options.firstTimeoutMs ?? 30_000,
    totalTimeoutMs: options.totalTimeoutMs ?? 120_000,
  };
  if (kind === 'send') {
    spec.body = sendBody({ deltas: options.deltas, interval: options.interval ?? 0, first: options.first ?? 0 });
    spec.expect = { kind: 'send', deltas: options.deltas };
  } else {
    spec.expect = { kind: 'test-sse', count: target.count };
  }
  return spec;
}

async function seq() {
  const agents = opts.targets.map(() => makeAgent({ sockets: 4 }));
  const visitors = opts.targets.map(() => visitor());
  const tallies = Object.fromEntries(opts.targets.map((t) => [t.name, new Tally()]));
  // Per round, each target's first-delta time (null when the request failed): for paired differences.
  const rounds = Object.fromEntries(opts.targets.map((t) => [t.name, []]));
  const total = (opts.warmup ?? 0) + opts.count;
  for (let round = 0; round < total; round++) {
    const order = round % 2 === 0 ? opts.targets.map((t, i) => [t, i]) : opts.targets.map((t, i) => [t, i]).reverse();
    for (const [target, i] of order) {
      const record = await stream(requestSpec(target, opts, agents[i], visitors[i]())).promise;
      if (round >= (opts.warmup ?? 0)) {
        tallies[target.name].add(record);
        rounds[target.name].push(record.outcome === 'ok' ? Math.round(record.firstDeltaMs * 1000) / 1000 : null);
      }
      if (opts.gapMs) await sleep(opts.gapMs);
    }
  }
  emit({ type: 'result', tallies, rounds });
}

async function streams() {
  const agent = makeAgent({ sockets: opts.n + 16, localAddress: opts.localAddress });
  const target = opts.target;
  const initial = new Tally();
  const replacements = new Tally();
  const steady = new Tally();
  const active = new Set();
  const startedAt = performance.now();
  let stopping = false;
  let opened = 0;
  let failedEarly = 0;
  let readySent = false;
  let finished = false;
  let started = 0;
  let resolveDone;
  const allDone = new Promise((resolve) => (resolveDone = resolve));

  const checkReady = () => {
    if (readySent || opened + failedEarly < opts.n) return;
    readySent = true;
    emit({ type: 'ready', opened, failed: failedEarly, ms: Math.round(performance.now() - startedAt) });
  };
  const start = (replacement) => {
    if (stopping) return;
    started++;
    const at = performance.now();
    const spec = requestSpec(target, opts, agent, randomUUID());
    if (!replacement) {
      spec.onFirst = () => {
        opened++;
        checkReady();
      };
    }
    const handle = stream(spec);
    active.add(handle);
    void handle.promise.then((record) => {
      active.delete(handle);
      if (replacement) {
        replacements.add(record);
        if (at - startedAt >= (opts.steadyAfterMs ?? 0)) steady.add(record);
      } else {
        initial.add(record);
        if (record.firstDeltaMs === null) {
          failedEarly++;
          checkReady();
        }
      }
      // A replacement for a failed stream waits a little: a server refusing at once is not stormed.
      if (opts.keep && !stopping) {
        if (record.outcome === 'ok') start(true);
        else setTimeout(() => start(true), 50);
      } else if (!opts.keep && active.size === 0 && started >= opts.n) resolveDone();
      else if (stopping && active.size === 0) resolveDone();
    });
  };

  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const handle of [...active]) handle.abort();
    if (active.size === 0) resolveDone();
  };
  commands.set('stop', stop);
  if (opts.durationMs) setTimeout(stop, opts.durationMs);

  const ramp = opts.rampMs ?? 0;
  if (ramp <= 0) for (let i = 0; i < opts.n; i++) start(false);
  else for (let i = 0; i < opts.n; i++) setTimeout(() => start(false), (ramp * i) / opts.n);

  const progress = setInterval(() => {
    if (!finished) emit({ type: 'progress', active: active.size, opened, started, ms: Math.round(performance.now() - startedAt) });
  }, 1000);
  await allDone;
  finished = true;
  clearInterval(progress);
  emit({ type: 'result', started, initial, replacements, steady, ms: Math.round(performance.now() - startedAt) });
}

async function turns() {
  const target = opts.target;
  const tally = new Tally();
  let errorsInWarmup = 0;
  const agent = makeAgent({ sockets: opts.clients + 4 });
  const begin = performance.now();
  const windowStart = begin + (opts.warmupMs ?? 0);
  const deadline = windowStart + opts.durationMs;
  await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      const anonId = visitor();
      while (performance.now() < deadline) {
        const record = await stream(requestSpec(target, opts, agent, anonId())).promise;
        const endedAt = performance.now();
        if (endedAt >= windowStart && endedAt <= deadline) tally.add(record);
        else if (record.outcome !== 'ok') errorsInWarmup++;
        // A refusal answers at once: do not spin on it.
        if (record.outcome !== 'ok') await sleep(10);
      }
    }),
  );
  emit({ type: 'result', tally, seconds: opts.durationMs / 1000, errorsInWarmup });
}

async function sockets() {
  const { io } = await import('socket.io-client');
  const all = [];
  const connectErrors = {};
  const disconnects = {};
  let connected = 0;
  let failed = 0;
  let usage = 0;
  let closing = false;
  const startedAt = performance.now();
  const connectMs = [];

  const open = () =>
    new Promise((resolve) => {
      const at = performance.now();
      const socket = io(`${opts.url}/chats`, {
        auth: { anon_id: randomUUID() },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        timeout: opts.timeoutMs ?? 30_000,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      });
      all.push(socket);
      socket.once('usage_info', () => usage++);
      socket.once('connect', () => {
        connected++;
        connectMs.push(performance.now() - at);
        resolve();
      });
      socket.once('connect_error', (error) => {
        failed++;
        connectErrors[error.message] = (connectErrors[error.message] ?? 0) + 1;
        socket.close();
        resolve();
      });
      socket.on('disconnect', (reason) => {
        if (!closing) disconnects[reason] = (disconnects[reason] ?? 0) + 1;
      });
    });

  let next = 0;
  const progress = setInterval(() => emit({ type: 'progress', connected, failed, ms: Math.round(performance.now() - startedAt) }), 2000);
  await Promise.all(
    Array.from({ length: Math.min(opts.concurrency ?? 64, opts.count) }, async () => {
      while (next < opts.count) {
        next++;
        await open();
      }
    }),
  );
  clearInterval(progress);
  emit({ type: 'ready', connected, failed, connectErrors, ms: Math.round(performance.now() - startedAt), connect_ms: stats(connectMs) });

  // A sample of the held sockets answers a ping: are they still served?
  commands.set('check', async ({ sample = 200 }) => {
    const live = all.filter((s) => s.connected);
    const picked = live.filter((_, i) => i % Math.max(1, Math.floor(live.length / sample)) === 0).slice(0, sample);
    const times = [];
    let timeouts = 0;
    await Promise.all(
      picked.map(
        (socket) =>
          new Promise((resolve) => {
            const at = performance.now();
            socket.timeout(10_000).emit('ping', {}, (error) => {
              if (error) timeouts++;
              else times.push(performance.now() - at);
              resolve();
            });
          }),
      ),
    );
    emit({ type: 'checked', live: live.length, pinged: picked.length, timeouts, ping_ms: stats(times) });
  });
  commands.set('stop', () => {
    closing = true;
    const live = all.filter((s) => s.connected).length;
    for (const socket of all) socket.close();
    emit({ type: 'result', connected, failed, connectErrors, live_at_stop: live, disconnects, usage_info_received: usage });
    setTimeout(() => exitWhenFlushed(0), 200);
  });
}

const modes = { seq, streams, turns, sockets };
if (!modes[mode]) {
  console.error(`unknown mode "${mode}"; one of ${Object.keys(modes).join(', ')}`);
  process.exit(2);
}
modes[mode]()
  .then(() => {
    if (mode !== 'sockets') exitWhenFlushed(0);
  })
  .catch((error) => {
    emit({ type: 'error', message: String(error?.stack ?? error) });
    exitWhenFlushed(1);
  });
