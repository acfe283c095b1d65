// The bare Socket.IO server: the baseline of the idle-sockets row. Plain socket.io (the project's
// version) on node:http, namespace /chats, with the server options our adapter sets
// (src/gateway/socket-io.adapter.ts: path, payload bound, connection state recovery). Like ours it
// takes `auth: {anon_id}`, joins the owner's room and pushes usage_info on connect; it stores and
// reads nothing. Prints {"type":"listening","port":N}; exits when its stdin closes.
import http from 'node:http';
import { Server } from 'socket.io';
import { emit, onCommands } from './lib/common.mjs';

const httpServer = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', sockets: io.of('/chats').sockets.size }));
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, {
  path: '/socket.io',
  serveClient: false,
  // As src/gateway/socket-io.adapter.ts: four times MAX_SOCKET_PAYLOAD_BYTES (6 x 32000 + 16 KiB), plus 4 KiB.
  maxHttpBufferSize: (32_000 * 6 + 16_384) * 4 + 4096,
  cors: { origin: true, credentials: false },
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: false },
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const chats = io.of('/chats');
chats.use((socket, next) => {
  const anonId = socket.handshake.auth?.anon_id;
  if (typeof anonId !== 'string' || !UUID.test(anonId)) return next(new Error('IDENTITY_REQUIRED'));
  socket.data.identity = { kind: 'anonymous', anonId: anonId.toLowerCase() };
  Promise.resolve(socket.join(`owner:anon:${anonId.toLowerCase()}`)).then(() => next(), next);
});
chats.on('connection', (socket) => {
  socket.emit('usage_info', {
    identity: 'anonymous',
    anon_id: socket.data.identity.anonId,
    messages_used: 0,
    messages_limit: 10,
    messages_remaining: 10,
    resets_at: new Date(Date.now() + 86_400_000).toISOString(),
  });
  socket.on('ping', (_payload, ack) => {
    const answer = { timestamp: new Date().toISOString() };
    socket.emit('pong', answer);
    if (typeof ack === 'function') ack(answer);
  });
});

httpServer.listen(0, '127.0.0.1', () => emit({ type: 'listening', port: httpServer.address().port }));

onCommands(() => undefined);
