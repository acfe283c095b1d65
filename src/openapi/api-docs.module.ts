import { Module } from '@nestjs/common';
import { ApiDocumentsService } from './api-documents.service.js';
import { DocsController } from './docs.controller.js';

// /openapi.json, /docs and /asyncapi.json.
@Module({
  controllers: [DocsController],
  providers: [ApiDocumentsService],
  exports: [ApiDocumentsService],
})
export class ApiDocsModule {}
