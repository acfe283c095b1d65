import { Controller, Get, Res } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import { HealthCounters } from './health-counters.js';

@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly counters: HealthCounters,
  ) {}

  @Get()
  async check(@Res({ passthrough: true }) res: Response) {
    const database = await this.databaseUp() ? 'up' : 'down';
    if (database === 'down') res.status(503);
    return {
      status: database === 'up' ? 'ok' : 'degraded',
      connected_users: this.counters.connectedUsers(),
      active_sessions: this.counters.activeSessions(),
      active_streams: this.counters.activeStreams(),
      database,
    };
  }

  private async databaseUp(): Promise<boolean> {
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), 2000);
      return true;
    } catch {
      return false;
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
