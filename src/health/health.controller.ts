import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import { RedisService } from '../redis/redis.service.js';
import { ApiRefusals } from '../openapi/api-docs.js';
import { HealthResponse, LiveResponse, ReadyResponse } from './dto/health.dto.js';
import { HealthCounters } from './health-counters.js';
import { Lifecycle } from './lifecycle.js';

const PROBE_TIMEOUT_MS = 2_000;

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly counters: HealthCounters,
    private readonly lifecycle: Lifecycle,
    private readonly redis: RedisService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Status and counters' })
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: HealthResponse, description: 'The database is down' })
  @ApiRefusals('json')
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthResponse> {
    const database = (await this.databaseUp()) ? 'up' : 'down';
    if (database === 'down') res.status(503);
    return {
      status: database === 'up' ? 'ok' : 'degraded',
      connected_users: this.counters.connectedUsers(),
      active_sessions: this.counters.activeSessions(),
      active_streams: this.counters.activeStreams(),
      database,
    };
  }

  // Liveness: the process serves at all. Nothing it depends on is asked, so a database outage
  // never makes an orchestrator restart healthy instances.
  @Get('live')
  @ApiOperation({ summary: 'Liveness: 200 while the process serves at all' })
  @ApiOkResponse({ type: LiveResponse })
  @ApiRefusals('json')
  live(): LiveResponse {
    return { status: 'ok' };
  }

  // Readiness: whether to send this instance new work.
  @Get('ready')
  @ApiOperation({ summary: 'Readiness: 200 when this instance can take new work' })
  @ApiOkResponse({ type: ReadyResponse })
  @ApiServiceUnavailableResponse({ type: ReadyResponse, description: 'Starting, draining for shutdown, or a dependency is down' })
  @ApiRefusals('json')
  async ready(@Res({ passthrough: true }) res: Response): Promise<ReadyResponse> {
    const [database, redis] = await Promise.all([this.databaseUp(), this.redis.enabled ? this.redis.ping(PROBE_TIMEOUT_MS) : Promise.resolve(undefined)]);
    const draining = this.lifecycle.draining;
    const ready = database && redis !== false && !draining;
    if (!ready) res.status(503);
    return {
      status: ready ? 'ready' : draining ? 'draining' : 'unavailable',
      database: database ? 'up' : 'down',
      redis: redis === undefined ? 'off' : redis ? 'up' : 'down',
      draining,
    };
  }

  private async databaseUp(): Promise<boolean> {
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), PROBE_TIMEOUT_MS);
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
