// The bare relay: the baseline of the streaming rows. node:http and @anthropic-ai/sdk (the
// project's version, called the way src/llm/anthropic.provider.ts calls it) reading the same fake
// upstream, writing one SSE frame per delta in our frame format (id: <message id>:<seq>,
// assistant_typing, assistant_delta..., assistant_complete, usage_info), storing nothing.
// Same paths as ours: POST /api/v1/messages/send, GET /api/v1/messages/test-sse, GET /health.
// Env UPSTREAM_URL. Prints {"type":"listening","port":N}; exits when its stdin closes.
import Anthropic from '@anthropic-ai/sdk';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { BENCH_MODEL, emit, onCommands } from './lib/common.mjs';

const client = new Anthropic({
  apiKey: 'bench',
  defaultHeaders: { 'x-api-key': 'bench', authorization: null },
  authToken: null,
  baseURL: process.env.UPSTREAM_URL,
  maxRetries: 2,
  timeout: 60_000,
  logLevel: 'warn',
});

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

let activeStreams = 0;

const frame = (id, seq, event, data) => `id: ${id}:${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

function openStream(res) {
  res.writeHead(200, SSE_HEADERS);
  res.socket?.setNoDelay(true);
  res.flushHeaders();
}

async function relay(req, res, body) {
  const content = typeof body?.content === 'string' ? body.content : '';
  const model = typeof body?.model === 'string' ? body.model : BENCH_MODEL;
  const anonId = req.headers['x-anon-id'] ?? randomUUID();
  const chatId = randomUUID();
  const messageId = randomUUID();
  let seq = 0;
  const send = (event, data) => {
    if (!res.writableEnded && !res.destroyed) res.write(frame(messageId, ++seq, event, data));
  };
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  activeStreams++;
  openStream(res);
  send('assistant_typing', { chat_id: chatId, user_message_id: randomUUID(), message_id: messageId, model });
  let text = '';
  let stopReason = 'end_turn';
  const usage = { input_tokens: 0, output_tokens: 0 };
  try {
    const events = await client.messages.create(
      { model, max_tokens: 1024, messages: [{ role: 'user', content }], stream: true },
      { signal: abort.signal },
    );
    for await (const event of events) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta' && event.delta.text) {
        text += event.delta.text;
        send('assistant_delta', { chat_id: chatId, message_id: messageId, delta: event.delta.text });
      } else if (event.type === 'message_start') {
        usage.input_tokens = event.message.usage.input_tokens ?? 0;
      } else if (event.type === 'message_delta') {
        stopReason = event.delta.stop_reason ?? stopReason;
        usage.output_tokens = event.usage.output_tokens;
      }
    }
    if (!abort.signal.aborted) {
      send('assistant_complete', { chat_id: chatId, message_id: messageId, content: text, model, stop_reason: stopReason, usage, created_at: new Date().toISOString() });
    }
  } catch (error) {
    if (!abort.signal.aborted) {
      send('assistant_error', { chat_id: chatId, message_id: messageId, code: 'PROVIDER_ERROR', error: String(error?.message ?? error), retryable: true });
    }
  } finally {
    activeStreams--;
  }
  send('usage_info', { identity: 'anonymous', anon_id: anonId, messages_used: 0, messages_limit: 0, messages_remaining: 0, resets_at: new Date().toISOString() });
  if (!res.writableEnded) res.end();
}

// The bare writer for the test-sse row: count frames written at once, no framework.
function testSse(res, url) {
  const count = Math.min(50, Math.max(1, Number(url.searchParams.get('count') ?? 5)));
  const id = randomUUID();
  openStream(res);
  for (let i = 1; i <= count; i++) {
    res.write(frame(id, i, 'test_message', { counter: i, message: `Test message ${i} of ${count}`, timestamp: new Date().toISOString() }));
  }
  res.end(frame(id, count + 1, 'test_complete', { message: 'done' }));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://relay');
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method === 'POST' && url.pathname === '/api/v1/messages/send') {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = {};
      }
      relay(req, res, body).catch(() => res.destroy());
    } else if (url.pathname === '/api/v1/messages/test-sse') {
      testSse(res, url);
    } else if (url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', active_streams: activeStreams }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"code":"NOT_FOUND"}');
    }
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(0, '127.0.0.1', () => emit({ type: 'listening', port: server.address().port }));

onCommands(() => undefined);
