// Streaming benchmark: our service against a bare node:http baseline, both on loopback, in one
// run. Usage: npm run build && node bench/run.mjs [--seconds 10] [--concurrency 8]
// Reports requests/s and latency percentiles for each, and the ratios ours/baseline.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '8' } } });
const SECONDS = Math.min(60, Number(values.seconds));
const CONCURRENCY = Math.min(64, Number(values.concurrency));
const CONTENT = 'The quick brown fox jumps over the lazy dog. '.repeat(4).trim();

function startProcess(args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (const line of buffer.split('\n')) {
        const port = ready(line);
        if (port) return resolve({ child, port });
      }
    });
    child.on('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

async function readStream(res) {
  const reader = res.body.getReader();
  let first;
  for (;;) {
    const { done } = await reader.read();
    first ??= performance.now();
    if (done) return first;
  }
}

// Runs `once` from CONCURRENCY loops for SECONDS; returns throughput and latency percentiles.
async function load(name, once) {
  const latencies = [];
  const firstBytes = [];
  let errors = 0;
  const deadline = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      while (performance.now() < deadline) {
        const started = performance.now();
        try {
          const first = await once(worker);
          latencies.push(performance.now() - started);
          firstBytes.push(first - started);
        } catch {
          errors++;
        }
      }
    }),
  );
  const pct = (list, p) => {
    const sorted = [...list].sort((a, b) => a - b);
    return sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 100) / 100 : null;
  };
  return { name, requests: latencies.length, errors, rps: Math.round((latencies.length / SECONDS) * 10) / 10, p50_ms: pct(latencies, 50), p95_ms: pct(latencies, 95), first_byte_p50_ms: pct(firstBytes, 50) };
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'chat-bench-'));
const app = await startProcess(
  ['dist/src/main.js'],
  { PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info', ECHO_DELAY_MS: '0', ANON_MESSAGE_LIMIT: '100000000', ANON_IP_MESSAGE_LIMIT: '100000000', RATE_LIMIT_PER_MINUTE: '100000000', DATABASE_URL: process.env.DATABASE_URL ?? '' },
  (line) => {
    try {
      const entry = JSON.parse(line);
      return entry.msg?.startsWith('listening') ? entry.port : undefined;
    } catch {
      return undefined;
    }
  },
).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
const baseline = await startProcess(['bench/baseline-server.mjs'], {}, (line) => {
  try {
    return JSON.parse(line).port;
  } catch {
    return undefined;
  }
});

const ours = `http://127.0.0.1:${app.port}`;
const bare = `http://127.0.0.1:${baseline.port}`;
const anonIds = Array.from({ length: CONCURRENCY }, () => randomUUID());
const send = (base, pathname, worker) =>
  fetch(base + pathname, { method: 'POST', headers: { 'content-type': 'application/json', 'x-anon-id': anonIds[worker] }, body: JSON.stringify({ content: CONTENT }) });

try {
  // Warm up both, so the first JIT and connection costs are not measured.
  for (let i = 0; i < 20; i++) {
    await readStream(await fetch(`${ours}/api/v1/messages/test-sse?count=5&interval_ms=0`));
    await readStream(await send(ours, '/api/v1/messages/send', 0));
  }
  const results = [];
  results.push(await load('baseline test-sse (50 frames)', async () => readStream(await fetch(`${bare}/test-sse?count=50`))));
  results.push(await load('ours test-sse (50 frames)', async () => readStream(await fetch(`${ours}/api/v1/messages/test-sse?count=50&interval_ms=0`))));
  results.push(await load('baseline send (echo, no storage)', async (w) => readStream(await send(bare, '/send', w))));
  results.push(await load('ours send (echo, stored in PostgreSQL)', async (w) => readStream(await send(ours, '/api/v1/messages/send', w))));

  const ratio = (a, b) => Math.round((a / b) * 1000) / 1000;
  const summary = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    seconds: SECONDS,
    concurrency: CONCURRENCY,
    results,
    ratios: {
      test_sse_throughput: ratio(results[1].rps, results[0].rps),
      test_sse_p50_latency: ratio(results[1].p50_ms, results[0].p50_ms),
      send_throughput: ratio(results[3].rps, results[2].rps),
      send_p50_latency: ratio(results[3].p50_ms, results[2].p50_ms),
      send_first_byte_p50: ratio(results[3].first_byte_p50_ms, results[2].first_byte_p50_ms),
    },
  };
  console.table(results);
  console.log(JSON.stringify(summary.ratios, null, 2));
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/latest.json', JSON.stringify(summary, null, 2) + '\n');
} finally {
  baseline.child.kill('SIGTERM');
  app.child.kill('SIGTERM');
  await new Promise((r) => app.child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
