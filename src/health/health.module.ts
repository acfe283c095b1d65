import { Global, Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { HealthCounters } from './health-counters.js';

@Global()
@Module({
  controllers: [HealthController],
  providers: [HealthCounters],
  exports: [HealthCounters],
})
export class HealthModule {}
