// What every bench process shares: the marker that tells the fake upstream how to answer, the
// text it answers with (so that a reader can check that no delta was lost or repeated), an SSE
// frame parser, percentiles, and the JSON-lines protocol between the orchestrator and its children.
import { randomUUID } from 'node:crypto';
import readline from 'node:readline';

export const BENCH_MODEL = 'claude-sonnet-5';

// The marker travels in the user's message: both our service and the bare relay pass the content
// to the upstream unchanged (request headers from the client do not reach it through our service).
export function marker({ deltas, interval = 0, first = 0 }) {
  return `[[bench:deltas=${deltas},interval=${interval},first=${first}]]`;
}

export function parseMarker(text) {
  const found = /\[\[bench:([^\]]*)\]\]/.exec(text ?? '');
  const settings = { deltas: 5, interval: 0, first: 0 };
  if (!found) return settings;
  for (const part of found[1].split(',')) {
    const [key, value] = part.split('=');
    const n = Number(value);
    if (key in settings && Number.isFinite(n) && n >= 0) settings[key] = Math.floor(n);
  }
  return settings;
}

export function sendBody(spec) {
  return JSON.stringify({ content: `Benchmark turn ${marker(spec)}` });
}

// An anonymous visitor of the load: a new one after as many messages as the service's default
// quota lets one visitor send (ANON_MESSAGE_LIMIT, 10). The bench lifts the limits so that
// nothing is refused, but one id sending thousands of messages would make every quota check
// count thousands of rows, a cost no real visitor can cause and one that grows with the run.
export const VISITOR_MESSAGES = 10;
export function visitor() {
  let id = randomUUID();
  let sent = 0;
  return () => {
    if (sent++ === VISITOR_MESSAGES) {
      id = randomUUID();
      sent = 1;
    }
    return id;
  };
}

// Delta i of every answer; unique words, so a lost or repeated delta shows in the joined text.
export const deltaText = (i) => `w${i} `;

export function expectedText(n) {
  let text = '';
  for (let i = 0; i < n; i++) text += deltaText(i);
  return text;
}

// Compares the joined deltas with what the upstream sent: how many of its deltas are missing,
// how many came more than once, and how many words were not sent at all.
export function checkText(text, n) {
  if (text === expectedText(n)) return { lost: 0, duplicated: 0, foreign: 0 };
  const seen = new Map();
  let foreign = 0;
  for (const word of text.split(' ')) {
    if (!word) continue;
    const match = /^w(\d+)$/.exec(word);
    if (!match || Number(match[1]) >= n) {
      foreign++;
      continue;
    }
    seen.set(word, (seen.get(word) ?? 0) + 1);
  }
  let lost = 0;
  let duplicated = 0;
  for (let i = 0; i < n; i++) {
    const count = seen.get(`w${i}`) ?? 0;
    if (count === 0) lost++;
    else duplicated += count - 1;
  }
  // Words in the wrong order with none missing still mean the stream is wrong.
  if (lost === 0 && duplicated === 0 && foreign === 0) foreign = 1;
  return { lost, duplicated, foreign };
}

// Incremental text/event-stream parser: push() decoded chunks, onFrame gets {id, event, data}.
export class SseParser {
  constructor(onFrame) {
    this.buffer = '';
    this.onFrame = onFrame;
  }

  push(chunk) {
    this.buffer += chunk;
    let end;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const raw = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.parse(raw);
    }
  }

  parse(raw) {
    let id;
    let event = 'message';
    let data;
    for (const line of raw.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    }
    if (data === undefined && id === undefined) return; // a comment (": ping")
    this.onFrame({ id, event, data: data ?? '' });
  }
}

// Nearest-rank percentile of an unsorted list; null when empty.
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return round(sorted[rank - 1]);
}

export function stats(values) {
  if (values.length === 0) return { n: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    n: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: percentile(values, 100),
    mean: round(sum / values.length),
  };
}

export const round = (x, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** digits) / 10 ** digits);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Children talk to the orchestrator in JSON lines: results and progress on stdout, commands on
// stdin. A child whose stdin closes (the orchestrator is gone) calls onEnd, so nothing outlives a run.
export function emit(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

// Exits once standard output has taken everything written: process.exit() right after a long
// result line (a row's samples) would otherwise cut the line short in the pipe.
export function exitWhenFlushed(code) {
  process.stdout.write('', () => process.exit(code));
}

export function onCommands(handler, onEnd = () => exitWhenFlushed(0)) {
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    let command;
    try {
      command = JSON.parse(line);
    } catch {
      return;
    }
    Promise.resolve(handler(command)).catch((error) => emit({ type: 'error', message: String(error?.stack ?? error) }));
  });
  lines.on('close', () => void onEnd());
}
