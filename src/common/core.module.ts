import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { DomainEvents } from './events/domain-events.js';
import type { AppLogger } from './logging/logger.js';

export const APP_CONFIG = Symbol('APP_CONFIG');
export const APP_LOGGER = Symbol('APP_LOGGER');

// The validated configuration, the logger and the domain event bus, made once in main.ts (or a test) and shared.
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, logger: AppLogger): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: APP_LOGGER, useValue: logger },
        { provide: DomainEvents, useValue: new DomainEvents(logger) },
      ],
      exports: [APP_CONFIG, APP_LOGGER, DomainEvents],
    };
  }
}
