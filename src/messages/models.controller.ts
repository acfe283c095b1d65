import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LlmService } from '../llm/llm.service.js';
import { ApiRefusals } from '../openapi/api-docs.js';
import { ModelsResponse } from './dto/models.dto.js';

@ApiTags('models')
@Controller('api/v1/models')
export class ModelsController {
  constructor(private readonly llm: LlmService) {}

  @Get()
  @ApiOperation({ summary: 'The models this server can answer with' })
  @ApiOkResponse({ type: ModelsResponse })
  @ApiRefusals('json')
  list(): ModelsResponse {
    return { models: this.llm.listModels() };
  }
}
