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

export function formatFrame({ id, event, data }: SseFrame): string {
  const idLine = id === undefined ? '' : `id: ${id}\n`;
  return `${idLine}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

// Writes Server-Sent Events to a raw Express response: headers flushed at once, every frame
// written as produced, a `: ping` comment whenever the stream has been quiet for pingMs.
export class SseWriter {
  private pingTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly res: Response,
    private readonly pingMs: number,
  ) {
    res.on('close', () => this.stopPing());
  }

  open(status = 200): void {
    this.res.status(status);
    for (const [name, value] of Object.entries(SSE_HEADERS)) this.res.setHeader(name, value);
    this.res.socket?.setNoDelay(true);
    this.res.flushHeaders();
    this.schedulePing();
  }

  send(frame: SseFrame): void {
    if (this.isGone()) return;
    this.res.write(formatFrame(frame));
    this.schedulePing();
  }

  end(): void {
    this.stopPing();
    if (!this.res.writableEnded) this.res.end();
  }

  isGone(): boolean {
    return this.closed || this.res.writableEnded || this.res.destroyed;
  }

  private schedulePing(): void {
    this.stopPing();
    this.pingTimer = setTimeout(() => {
      if (this.isGone()) return;
      this.res.write(': ping\n\n');
      this.schedulePing();
    }, this.pingMs);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    if (this.res.destroyed) this.closed = true;
    if (this.pingTimer) clearTimeout(this.pingTimer);
  }
}
