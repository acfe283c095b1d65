import { Module } from '@nestjs/common';
import { ChatsModule } from '../chats/chats.module.js';
import { DocumentsModule } from '../documents/documents.module.js';
import { LlmModule } from '../llm/llm.module.js';
import { RedisService } from '../redis/redis.service.js';
import { UsageModule } from '../usage/usage.module.js';
import { AiSdkChatController } from './ai-sdk/ai-sdk-chat.controller.js';
import { ClientChatsService } from './ai-sdk/client-chats.service.js';
import { AbandonedGenerationsSweeper } from './generation/abandoned-generations.sweeper.js';
import { GenerationCheckpoints } from './generation/generation-checkpoints.js';
import { APP_LOGGER } from '../common/core.module.js';
import type { AppLogger } from '../common/logging/logger.js';
import { GENERATION_LOG, MemoryGenerationLog } from './generation/generation-log.js';
import { GenerationRegistry } from './generation/generation-registry.js';
import { GenerationRunner } from './generation/generation-runner.js';
import { RedisGenerationLog } from './generation/redis-generation-log.js';
import { RegenerateMessage } from './generation/regenerate-message.use-case.js';
import { ResumeGeneration } from './generation/resume-generation.use-case.js';
import { SendMessage } from './generation/send-message.use-case.js';
import { LocalStopChannel, RedisStopChannel, STOP_CHANNEL } from './generation/stop-channel.js';
import { StopGeneration } from './generation/stop-generation.use-case.js';
import { MessagesController } from './messages.controller.js';
import { ModelsController } from './models.controller.js';

// The generation engine and its transports: the SSE stream and the AI SDK's UI message stream. With REDIS_URL the log (resume on any instance)
// and the stop channel go through Redis; without, they stay in memory.
@Module({
  imports: [ChatsModule, LlmModule, UsageModule, DocumentsModule],
  controllers: [MessagesController, ModelsController, AiSdkChatController],
  providers: [
    SendMessage,
    RegenerateMessage,
    StopGeneration,
    ResumeGeneration,
    ClientChatsService,
    GenerationRunner,
    GenerationRegistry,
    GenerationCheckpoints,
    AbandonedGenerationsSweeper,
    {
      provide: GENERATION_LOG,
      inject: [RedisService, APP_LOGGER],
      useFactory: (redis: RedisService, logger: AppLogger) => (redis.enabled ? new RedisGenerationLog(redis, undefined, undefined, logger) : new MemoryGenerationLog()),
    },
    {
      provide: STOP_CHANNEL,
      inject: [RedisService],
      useFactory: (redis: RedisService) => (redis.enabled ? new RedisStopChannel(redis) : new LocalStopChannel()),
    },
  ],
  exports: [SendMessage, RegenerateMessage, StopGeneration, ResumeGeneration, GenerationRegistry],
})
export class MessagesModule {}
