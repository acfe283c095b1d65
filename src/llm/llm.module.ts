import { Module } from '@nestjs/common';
import { EmbeddingsService } from './embeddings.service.js';
import { LlmService } from './llm.service.js';

// Config and logger come from the global CoreModule.
@Module({
  providers: [LlmService, EmbeddingsService],
  exports: [LlmService, EmbeddingsService],
})
export class LlmModule {}
