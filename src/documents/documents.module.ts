import { Module } from '@nestjs/common';
import { LlmModule } from '../llm/llm.module.js';
import { ProjectsModule } from '../projects/projects.module.js';
import { UsageModule } from '../usage/usage.module.js';
import { DocumentsController } from './documents.controller.js';
import { DocumentsRepository } from './documents.repository.js';
import { DocumentsService } from './documents.service.js';
import { DocumentIngestion } from './ingestion/document-ingestion.js';
import { PassagesRepository } from './passages.repository.js';
import { UploadBudget } from './upload/upload-budget.js';
import { AnswerScopes } from './retrieval/answer-scope.js';
import { RetrievalService } from './retrieval/retrieval.service.js';
import { PostgresVectorStore, VECTOR_STORE } from './retrieval/vector-store.js';

// Uploads, their ingestion (read, split, index, embed) and retrieval for answers.
@Module({
  imports: [ProjectsModule, LlmModule, UsageModule],
  controllers: [DocumentsController],
  providers: [
    DocumentsRepository,
    PassagesRepository,
    DocumentsService,
    DocumentIngestion,
    UploadBudget,
    RetrievalService,
    AnswerScopes,
    { provide: VECTOR_STORE, useClass: PostgresVectorStore },
  ],
  exports: [DocumentsRepository, RetrievalService, AnswerScopes],
})
export class DocumentsModule {}
