import { Controller, Get, Global, Module, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { HealthCounters } from '../health/health-counters.js';
import { ApiRefusals } from '../openapi/api-docs.js';
import { MetricsService } from './metrics.service.js';

@ApiTags('health')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } })
  @ApiRefusals('json')
  async scrape(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.end(await this.metrics.registry.metrics());
  }
}

@Global()
@Module({
  controllers: [MetricsController],
  providers: [
    {
      provide: MetricsService,
      inject: [HealthCounters],
      useFactory: (counters: HealthCounters) => {
        const metrics = new MetricsService();
        metrics.observeActiveStreams(() => counters.activeStreams());
        metrics.observeSocketConnections(() => counters.activeSessions());
        return metrics;
      },
    },
  ],
  exports: [MetricsService],
})
export class MetricsModule {}
