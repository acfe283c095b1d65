// One streamed request, timed from outside: node:http with a keep-alive agent, frames parsed as
// they arrive, deltas joined and checked against what the fake upstream sent. Never hangs: every
// stream has a deadline for its first delta and one for its end.
import http from 'node:http';
import { checkText, SseParser, stats } from './common.mjs';

export function makeAgent({ sockets = 256, localAddress } = {}) {
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: sockets, scheduling: 'lifo', ...(localAddress ? { localAddress } : {}) });
}

// spec: {host, port, path, method = 'POST', body, anonId, agent, expect: {kind: 'send', deltas} |
// {kind: 'test-sse', count}, firstTimeoutMs, totalTimeoutMs, onFirst}. Returns {promise, abort}.
// The record's outcome is one of: ok, http_error, stream_error, lost_frames, incomplete,
// connection_error, timeout_first, timeout_total, aborted (by the caller).
export function stream(spec) {
  const record = {
    outcome: null,
    status: 0,
    code: null,
    startedAt: 0,
    headersMs: null,
    typingMs: null,
    firstDeltaMs: null,
    endMs: null,
    frames: 0,
    deltaFrames: 0,
    lost: 0,
    duplicated: 0,
    foreign: 0,
    seqErrors: 0,
  };
  let settle;
  const promise = new Promise((resolve) => (settle = resolve));
  let settled = false;
  let text = '';
  let terminal = null;
  let errorFrame = null;
  let usageSeen = false;
  let lastSeq = 0;
  let firstTimer;
  let totalTimer;
  let req;

  const done = (outcome) => {
    if (settled) return;
    settled = true;
    clearTimeout(firstTimer);
    clearTimeout(totalTimer);
    record.outcome = outcome;
    record.endMs = performance.now() - record.startedAt;
    settle(record);
  };

  const onFrame = (frame) => {
    const now = performance.now();
    record.frames++;
    if (frame.id) {
      const seq = Number(frame.id.slice(frame.id.lastIndexOf(':') + 1));
      if (!(seq > lastSeq)) record.seqErrors++;
      if (seq > lastSeq) lastSeq = seq;
    }
    switch (frame.event) {
      case 'assistant_delta':
      case 'test_message':
        if (record.firstDeltaMs === null) {
          record.firstDeltaMs = now - record.startedAt;
          clearTimeout(firstTimer);
          spec.onFirst?.(record);
        }
        record.deltaFrames++;
        if (frame.event === 'assistant_delta') {
          try {
            text += JSON.parse(frame.data).delta ?? '';
          } catch {
            record.foreign++;
          }
        }
        break;
      case 'assistant_typing':
        record.typingMs ??= now - record.startedAt;
        break;
      case 'assistant_complete':
        try {
          terminal = JSON.parse(frame.data);
        } catch {
          terminal = {};
        }
        break;
      case 'test_complete':
        terminal = {};
        break;
      case 'assistant_error':
        try {
          errorFrame = JSON.parse(frame.data);
        } catch {
          errorFrame = { code: 'UNPARSABLE' };
        }
        record.code = errorFrame.code ?? 'NO_CODE';
        break;
      case 'usage_info':
        usageSeen = true;
        break;
      default:
        break;
    }
  };

  const finish = () => {
    if (record.status !== 200) {
      record.code ??= `HTTP_${record.status}`;
      return done('http_error');
    }
    if (errorFrame) return done('stream_error');
    if (!terminal) return done('incomplete');
    const expect = spec.expect ?? { kind: 'none' };
    if (expect.kind === 'send') {
      Object.assign(record, checkText(text, expect.deltas));
      if (typeof terminal.content === 'string' && terminal.content !== text) record.foreign++;
      if (record.lost || record.duplicated || record.foreign || record.seqErrors) return done('lost_frames');
      if (!usageSeen) return done('incomplete');
    } else if (expect.kind === 'test-sse') {
      if (record.deltaFrames !== expect.count) {
        record.lost = Math.max(0, expect.count - record.deltaFrames);
        return done('lost_frames');
      }
    }
    done('ok');
  };

  const headers = { accept: 'text/event-stream' };
  if (spec.body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(spec.body);
  }
  if (spec.anonId) {
    headers['x-anon-id'] = spec.anonId;
    // Each visitor comes from an address of its own, as on the internet (the service trusts the
    // header: TRUST_PROXY=true); from one address, the address quota would count every turn.
    headers['x-forwarded-for'] = visitorAddress(spec.anonId);
  }
  req = http.request({ host: spec.host, port: spec.port, path: spec.path, method: spec.method ?? 'POST', headers, agent: spec.agent });
  req.on('error', (error) => {
    record.code ??= error.code ?? error.message;
    done(record.status ? 'incomplete' : 'connection_error');
  });
  req.on('response', (res) => {
    record.status = res.statusCode ?? 0;
    record.headersMs = performance.now() - record.startedAt;
    res.setEncoding('utf8');
    const parser = new SseParser(onFrame);
    res.on('data', (chunk) => parser.push(chunk));
    res.on('end', finish);
    res.on('error', () => done('incomplete'));
    res.on('close', () => {
      if (!res.complete) done('incomplete');
    });
  });
  firstTimer = setTimeout(() => {
    done('timeout_first');
    req.destroy();
  }, spec.firstTimeoutMs ?? 30_000);
  totalTimer = setTimeout(() => {
    done('timeout_total');
    req.destroy();
  }, spec.totalTimeoutMs ?? 120_000);
  record.startedAt = performance.now();
  req.end(spec.body);

  return {
    promise,
    record,
    abort: () => {
      if (settled) return;
      done('aborted');
      req.destroy();
    },
  };
}

const bump = (counts, key, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

export const ERROR_OUTCOMES = ['http_error', 'stream_error', 'lost_frames', 'incomplete', 'connection_error', 'timeout_first', 'timeout_total'];

// Counts outcomes, codes and lost or repeated deltas, and keeps the timings; mergeable across
// generator processes (toJSON / mergeTallies).
export class Tally {
  constructor() {
    this.count = 0;
    this.outcomes = {};
    this.codes = {};
    this.httpErrors = {};
    this.streamErrors = {};
    this.connectionErrors = {};
    this.lost = 0;
    this.duplicated = 0;
    this.foreign = 0;
    this.seqErrors = 0;
    this.deltaFrames = 0;
    this.firstDelta = [];
    this.headers = [];
    this.total = [];
  }

  add(record) {
    this.count++;
    this.outcomes[record.outcome] = (this.outcomes[record.outcome] ?? 0) + 1;
    if (record.code && record.outcome !== 'aborted') this.codes[record.code] = (this.codes[record.code] ?? 0) + 1;
    // Refused with an HTTP status (and one assistant_error frame), or failed within a 200 stream.
    if (record.outcome === 'http_error') bump(this.httpErrors, `${record.status} ${record.code}`);
    if (record.outcome === 'stream_error') bump(this.streamErrors, record.code);
    if (record.outcome === 'connection_error') bump(this.connectionErrors, record.code ?? 'unknown');
    this.lost += record.lost;
    this.duplicated += record.duplicated;
    this.foreign += record.foreign;
    this.seqErrors += record.seqErrors;
    this.deltaFrames += record.deltaFrames;
    if (record.firstDeltaMs !== null) this.firstDelta.push(Math.round(record.firstDeltaMs * 1000) / 1000);
    if (record.headersMs !== null) this.headers.push(Math.round(record.headersMs * 1000) / 1000);
    if (record.outcome === 'ok') this.total.push(Math.round(record.endMs * 1000) / 1000);
  }

  toJSON() {
    return { ...this };
  }
}

export function mergeTallies(list) {
  const merged = new Tally();
  for (const t of list.filter(Boolean)) {
    merged.count += t.count;
    for (const [k, v] of Object.entries(t.outcomes)) merged.outcomes[k] = (merged.outcomes[k] ?? 0) + v;
    for (const key of ['codes', 'httpErrors', 'streamErrors', 'connectionErrors']) for (const [k, v] of Object.entries(t[key])) bump(merged[key], k, v);
    for (const key of ['lost', 'duplicated', 'foreign', 'seqErrors', 'deltaFrames']) merged[key] += t[key];
    merged.firstDelta.push(...t.firstDelta);
    merged.headers.push(...t.headers);
    merged.total.push(...t.total);
  }
  return merged;
}

// The tally without its raw timings, as results report it.
export function describeTally(t) {
  const errors = ERROR_OUTCOMES.reduce((n, k) => n + (t.outcomes[k] ?? 0), 0);
  return {
    streams: t.count,
    ok: t.outcomes.ok ?? 0,
    errors,
    outcomes: t.outcomes,
    codes: t.codes,
    http_errors: t.httpErrors,
    assistant_errors: t.streamErrors,
    connection_errors: t.connectionErrors,
    lost_deltas: t.lost,
    duplicated_deltas: t.duplicated,
    foreign_words: t.foreign,
    out_of_order_frames: t.seqErrors,
    delta_frames: t.deltaFrames,
    first_delta_ms: stats(t.firstDelta),
    headers_ms: stats(t.headers),
    total_ms: stats(t.total),
  };
}

// A stable 10.x.y.z address for an anonymous id.
export function visitorAddress(anonId) {
  const hex = anonId.replace(/-/g, '');
  return `10.${parseInt(hex.slice(0, 2), 16)}.${parseInt(hex.slice(2, 4), 16)}.${parseInt(hex.slice(4, 6), 16)}`;
}
