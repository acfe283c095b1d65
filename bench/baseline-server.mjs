// The bare baseline: a plain node:http server writing the same SSE frames our endpoints write,
// with no framework, database, identity or model in the way. The benchmark measures ours
// against it in the same run, so the ratios hold on any machine.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    const id = randomUUID();
    if (url.pathname === '/test-sse') {
      const count = Number(url.searchParams.get('count') ?? 5);
      for (let i = 1; i <= count; i++) {
        res.write(`id: ${id}:${i}\nevent: test_message\ndata: ${JSON.stringify({ counter: i, message: `Test message ${i} of ${count}`, timestamp: new Date().toISOString() })}\n\n`);
      }
      res.end(`id: ${id}:${count + 1}\nevent: test_complete\ndata: {"message":"done"}\n\n`);
      return;
    }
    // "send": echo the words back as deltas, as the echo model does, without storing anything.
    const { content } = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    const words = String(content).split(/(?<=\s)(?=\S)/u);
    let seq = 0;
    const frame = (event, data) => res.write(`id: ${id}:${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    frame('assistant_typing', { chat_id: id, user_message_id: id, message_id: id, model: 'echo' });
    for (const w of words) frame('assistant_delta', { chat_id: id, message_id: id, delta: w });
    frame('assistant_complete', { chat_id: id, message_id: id, content, model: 'echo', stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 }, created_at: new Date().toISOString() });
    frame('usage_info', { identity: 'anonymous' });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
