// The model provider of the benchmark: a lean node:http server answering POST /v1/messages in
// Anthropic's streaming wire format (message_start, content_block_start, content_block_delta
// text_delta..., content_block_stop, message_delta with stop_reason and usage, message_stop).
// How many deltas, the pause before the first and between the others come from a marker in the
// last user message, [[bench:deltas=40,interval=50,first=0]], which our service and the bare relay
// both pass through unchanged. Interval 0 yields with setImmediate, without a timer's floor.
// Prints {"type":"listening","port":N}; exits when its stdin closes.
import http from 'node:http';
import { deltaText, emit, onCommands, parseMarker } from './lib/common.mjs';

let served = 0;
let open = 0;

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => part?.text ?? '').join('');
  return '';
}

function answer(req, res, body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  const lastUser = messages.findLast((m) => m?.role === 'user');
  const spec = parseMarker(textOf(lastUser?.content));
  const model = body?.model ?? 'unknown';
  const inputTokens = Math.max(1, Math.ceil(messages.reduce((n, m) => n + textOf(m?.content).length, 0) / 4));
  const outputTokens = Math.max(1, Math.ceil(spec.deltas * 1.5));
  const id = `msg_bench_${++served}`;

  if (body?.stream !== true) {
    let text = '';
    for (let i = 0; i < spec.deltas; i++) text += deltaText(i);
    const payload = JSON.stringify({
      id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text }],
      stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: outputTokens },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'request-id': `req_${id}` });
    res.end(payload);
    return;
  }

  open++;
  let ended = false;
  const finish = () => {
    if (ended) return;
    ended = true;
    open--;
  };
  res.on('close', finish);
  const frame = (event, data) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': `req_${id}` });
  res.write(
    frame('message_start', {
      type: 'message_start',
      message: {
        id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
      },
    }) +
      frame('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
      frame('ping', { type: 'ping' }),
  );

  let i = 0;
  const next = () => {
    if (ended || res.destroyed) return;
    if (i < spec.deltas) {
      res.write(frame('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: deltaText(i) } }));
      i++;
      schedule(spec.interval);
      return;
    }
    res.end(
      frame('content_block_stop', { type: 'content_block_stop', index: 0 }) +
        frame('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: outputTokens } }) +
        frame('message_stop', { type: 'message_stop' }),
    );
    finish();
  };
  const schedule = (ms) => (ms > 0 ? setTimeout(next, ms) : setImmediate(next));
  if (spec.first > 0) setTimeout(next, spec.first);
  else next();
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `${req.method} ${req.url} not found` } }));
      return;
    }
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'body is not JSON' } }));
      return;
    }
    answer(req, res, body);
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(0, '127.0.0.1', () => emit({ type: 'listening', port: server.address().port }));

onCommands((command) => {
  if (command.cmd === 'stats') emit({ type: 'stats', served, open });
});
