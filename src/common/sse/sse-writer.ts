import type { Response } from 'express';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
} as const;

export interface SseFrame {
  id?: string;
  event: string;
  data: unknown;
}

// A frame is serialised once, however many responses it reaches: they all get it in one go
// (the log hands each frame to its followers in turn), so the last frame's text is kept, and
// no more. Kept with every frame, the text would stay as long as the frame's log does.
let lastFrame: SseFrame | undefined;
let lastText = '';

export function formatFrame(frame: SseFrame): string {
  if (frame !== lastFrame) {
    const idLine = frame.id === undefined ? '' : `id: ${frame.id}\n`;
    lastText = `${idLine}event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`;
    lastFrame = frame;
  }
  return lastText;
}

export interface SseWriterOptions {
  pingMs: number;
  // Bytes a slow reader may leave unsent before the stream gives up on it.
  maxBufferBytes: number;
  // Called once when that happens; the response is then destroyed.
  onOverflow?: () => void;
}

// Writes Server-Sent Events to a raw Express response: headers flushed at once, every frame
// written as produced, a `: ping` comment whenever the stream has been quiet for pingMs. Writes
// honour back-pressure: what the socket has not taken stays buffered up to maxBufferBytes.
export class SseWriter {
  private pingTimer?: NodeJS.Timeout;
  // When the next ping is due; the timer is re-armed only when it fires early, so a frame every
  // few milliseconds does not cost a timer each.
  private pingDue = 0;
  private closed = false;

  constructor(
    private readonly res: Response,
    private readonly options: SseWriterOptions,
  ) {
    res.on('close', () => {
      this.closed = true;
      this.stopPing();
    });
  }

  open(status = 200, headers: Record<string, string> = {}): void {
    this.res.status(status);
    for (const [name, value] of Object.entries({ ...SSE_HEADERS, ...headers })) this.res.setHeader(name, value);
    this.res.socket?.setNoDelay(true);
    this.res.flushHeaders();
    this.schedulePing();
  }

  send(frame: SseFrame): void {
    this.write(formatFrame(frame));
  }

  // A frame of data alone, already serialised (the AI SDK's UI message stream names no events).
  sendData(text: string): void {
    this.write(`data: ${text}\n\n`);
  }

  end(): void {
    this.stopPing();
    if (!this.res.writableEnded) this.res.end();
  }

  isGone(): boolean {
    return this.closed || this.res.writableEnded || this.res.destroyed;
  }

  private write(text: string): void {
    if (this.isGone()) return;
    if (!this.res.write(text) && this.res.writableLength > this.options.maxBufferBytes) {
      this.closed = true;
      this.stopPing();
      this.options.onOverflow?.();
      this.res.destroy();
      return;
    }
    this.schedulePing();
  }

  private schedulePing(): void {
    this.pingDue = Date.now() + this.options.pingMs;
    if (this.pingTimer) return;
    this.armPing(this.options.pingMs);
  }

  private armPing(ms: number): void {
    this.pingTimer = setTimeout(() => {
      this.pingTimer = undefined;
      if (this.isGone()) return;
      const wait = this.pingDue - Date.now();
      if (wait > 0) {
        this.armPing(wait);
        return;
      }
      this.write(': ping\n\n');
    }, ms);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
  }
}
