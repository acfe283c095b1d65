import { Injectable } from '@nestjs/common';

// Live counts for /health. The gateway and the generation engine report into it.
@Injectable()
export class HealthCounters {
  private readonly socketsByOwner = new Map<string, number>();
  private sockets = 0;
  private streams = 0;

  socketConnected(owner: string): void {
    this.sockets++;
    this.socketsByOwner.set(owner, (this.socketsByOwner.get(owner) ?? 0) + 1);
  }

  socketDisconnected(owner: string): void {
    this.sockets = Math.max(0, this.sockets - 1);
    const left = (this.socketsByOwner.get(owner) ?? 1) - 1;
    if (left > 0) this.socketsByOwner.set(owner, left);
    else this.socketsByOwner.delete(owner);
  }

  streamStarted(): void {
    this.streams++;
  }

  streamEnded(): void {
    this.streams = Math.max(0, this.streams - 1);
  }

  connectedUsers(): number {
    return this.socketsByOwner.size;
  }

  activeSessions(): number {
    return this.sockets;
  }

  activeStreams(): number {
    return this.streams;
  }
}
