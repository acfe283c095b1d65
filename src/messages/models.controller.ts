import { Controller, Get } from '@nestjs/common';
import { LlmService } from '../llm/llm.service.js';

@Controller('api/v1/models')
export class ModelsController {
  constructor(private readonly llm: LlmService) {}

  @Get()
  list() {
    return { models: this.llm.listModels() };
  }
}
