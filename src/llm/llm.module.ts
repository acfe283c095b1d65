import { Module } from '@nestjs/common';
import { LlmService } from './llm.service.js';

// Config and logger come from the global CoreModule.
@Module({
  providers: [LlmService],
  exports: [LlmService],
})
export class LlmModule {}
