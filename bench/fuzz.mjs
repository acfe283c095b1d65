#!/usr/bin/env node
// The long fuzz run: the suites CI runs at a fixed seed and 40 runs per surface, with many more
// runs and a seed of your choice. Nothing else should run meanwhile (2 cores).
//
//   node bench/fuzz.mjs                      # 1000 runs per route / socket event, a random seed
//   node bench/fuzz.mjs --runs 300 --seed 42 # reproduce a run
//   node bench/fuzz.mjs --only http          # or: socket
//
// It writes bench/results/fuzz-<time>.json with the seed, the runs, the counts per surface and
// the outcome; a failure prints fast-check's counterexample and the seed to replay it with.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const known = new Set(['--runs', '--seed', '--only']);
for (let i = 0; i < args.length; i += 2) {
  if (!known.has(args[i])) {
    console.error('usage: node bench/fuzz.mjs [--runs N] [--seed N] [--only http|socket]');
    process.exit(2);
  }
}
const runs = Number(option('runs', 1000));
const seed = Number(option('seed', Math.floor(Math.random() * 2 ** 31)));
const only = option('only', undefined);
const files = ['http', 'socket'].filter((s) => !only || s === only).map((s) => `test/reliability/fuzz-${s}.e2e.test.ts`);

console.log(`fuzzing ${files.join(', ')} with ${runs} runs per surface, seed ${seed}`);
const started = Date.now();
// On the project's Node (the `node` package), as npm scripts run it, whichever Node runs this.
const bin = path.join(root, 'node_modules/.bin');
const child = spawn(path.join(bin, 'node'), [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...files], {
  cwd: root,
  env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, FUZZ_RUNS: String(runs), FUZZ_SEED: String(seed) },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.on('data', (chunk) => {
  output += chunk;
  process.stdout.write(chunk);
});
child.on('exit', (code) => {
  const counts = {};
  for (const line of output.split('\n')) {
    const match = /^(HTTP|Socket\.IO) fuzzing: (.*)$/.exec(line.replace(/\x1b\[[0-9;]*m/g, '').trim());
    if (!match) continue;
    for (const part of match[2].split(', ')) {
      const at = part.lastIndexOf(': ');
      counts[`${match[1]} ${part.slice(0, at)}`] = Number(part.slice(at + 2));
    }
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const result = { at: new Date().toISOString(), seed, runs, files, passed: code === 0, seconds: Math.round((Date.now() - started) / 1000), total_inputs: total, counts };
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const file = path.join(root, 'bench/results', `fuzz-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\n${code === 0 ? 'passed' : 'FAILED'}: ${total} inputs in ${result.seconds} s, seed ${seed}; written to ${path.relative(root, file)}`);
  process.exit(code ?? 1);
});
