import { Global, Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { HealthCounters } from './health-counters.js';
import { Lifecycle } from './lifecycle.js';

@Global()
@Module({
  controllers: [HealthController],
  providers: [HealthCounters, Lifecycle],
  exports: [HealthCounters, Lifecycle],
})
export class HealthModule {}
