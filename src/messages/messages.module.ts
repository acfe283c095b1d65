import { Module } from '@nestjs/common';
import { ChatsModule } from '../chats/chats.module.js';
import { LlmModule } from '../llm/llm.module.js';
import { RedisService } from '../redis/redis.service.js';
import { UsageModule } from '../usage/usage.module.js';
import { GENERATION_LOG, MemoryGenerationLog } from './generation/generation-log.js';
import { GenerationService } from './generation/generation.service.js';
import { RedisGenerationLog } from './generation/redis-generation-log.js';
import { MessagesController } from './messages.controller.js';
import { ModelsController } from './models.controller.js';

@Module({
  imports: [ChatsModule, LlmModule, UsageModule],
  controllers: [MessagesController, ModelsController],
  providers: [
    GenerationService,
    {
      // Redis Streams when REDIS_URL is set (resume on any instance), memory otherwise.
      provide: GENERATION_LOG,
      inject: [RedisService],
      useFactory: (redis: RedisService) => (redis.enabled ? new RedisGenerationLog(redis) : new MemoryGenerationLog()),
    },
  ],
  exports: [GenerationService],
})
export class MessagesModule {}
