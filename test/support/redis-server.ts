import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from '../../src/database/embedded-postgres.js';

// A redis-server of a test's own, on a free port, that the test may kill and start again
// without touching the Redis other tests share. Nothing is persisted.
export interface OwnRedis {
  url: string;
  port: number;
  // SIGKILL: the connections drop at once, as in a crash.
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  // SIGSTOP / SIGCONT: the connections stay open and nothing answers, as when the network to
  // Redis goes silent; thaw() lets it answer what was queued meanwhile.
  freeze(): void;
  thaw(): void;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await answers(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  const signal = (name: NodeJS.Signals) => {
    if (!child || child.exitCode !== null) throw new Error('redis-server is not running');
    child.kill(name);
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, kill, start, stop: kill, freeze: () => signal('SIGSTOP'), thaw: () => signal('SIGCONT') };
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.write('PING\r\n');
    });
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    // A server that is still starting may accept and close, or not answer: try again later.
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
  });
}
