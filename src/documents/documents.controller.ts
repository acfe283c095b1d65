import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiConsumes, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorCode } from '../common/errors/error-code.js';
import { ApiIdentity, ApiRefusals, IDENTITY_REFUSALS } from '../openapi/api-docs.js';
import type { Request } from 'express';
import { CurrentIdentity, IdentityGuard } from '../auth/identity.guard.js';
import { APP_CONFIG } from '../common/core.module.js';
import type { Identity } from '../common/identity.js';
import { MULTIPART_OVERHEAD, type AppConfig } from '../config/app-config.js';
import { RateLimitGuard } from '../usage/rate-limit.guard.js';
import { DocumentsService } from './documents.service.js';
import { DocumentEnvelope, DocumentIdParam, DocumentsList, ListDocumentsQuery } from './dto/document.dto.js';
import { endAfterRefusal, readUpload, uploadReservation } from './upload/multipart-upload.js';
import { UploadBudget } from './upload/upload-budget.js';

@ApiTags('documents')
@ApiIdentity()
@Controller('api/v1/documents')
@UseGuards(IdentityGuard, RateLimitGuard)
export class DocumentsController {
  constructor(
    private readonly documents: DocumentsService,
    private readonly budget: UploadBudget,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  // multipart/form-data: `file`, and `project_id` optionally. 202 at once: the document is read,
  // split and indexed afterwards (document_status tells how far it got).
  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'Upload a PDF, plain text, Markdown or HTML file: 202 at once, then document_status pushes as it is processed' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: {
        file: { type: 'string', format: 'binary', description: 'the document (its type is read from its content, up to MAX_DOCUMENT_BYTES)' },
        project_id: { type: 'string', format: 'uuid', description: 'the project it belongs to; absent: the identity documents outside projects' },
      },
    },
  })
  @ApiAcceptedResponse({ type: DocumentEnvelope })
  @ApiRefusals(
    'json',
    ...IDENTITY_REFUSALS,
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.UNSUPPORTED_DOCUMENT,
    ErrorCode.PROJECT_NOT_FOUND,
    ErrorCode.RATE_LIMITED,
    ErrorCode.SERVER_BUSY,
  )
  async upload(@CurrentIdentity() identity: Identity, @Req() req: Request): Promise<DocumentEnvelope> {
    const { maxDocumentBytes, uploadTimeoutMs, uploadMinBytesPerSecond } = this.config;
    let release: (() => void) | undefined;
    try {
      // Before a byte of the body is read: what it may hold must fit the instance's budget.
      const reservation = uploadReservation(req, maxDocumentBytes);
      release = this.budget.reserve(reservation);
      // The identity must have room for it: asked while the body starts to arrive (a refusal
      // stops the reading), so that reading does not wait for the answer.
      const stop = new AbortController();
      const room = this.documents.checkRoom(identity, reservation - MULTIPART_OVERHEAD).catch((error: unknown) => {
        stop.abort(error);
        throw error;
      });
      const [upload] = await Promise.all([readUpload(req, { maxBytes: maxDocumentBytes, timeoutMs: uploadTimeoutMs, minBytesPerSecond: uploadMinBytesPerSecond }, stop.signal), room]);
      return await this.documents.accept(identity, upload);
    } catch (error) {
      endAfterRefusal(req, maxDocumentBytes);
      throw error;
    } finally {
      // Stored (or refused): the upload's bytes are no longer held for this request.
      release?.();
    }
  }

  @Get()
  @ApiOperation({ summary: "The identity's documents, of one project or all, with their status" })
  @ApiOkResponse({ type: DocumentsList })
  @ApiRefusals('json', ...IDENTITY_REFUSALS, ErrorCode.VALIDATION_ERROR, ErrorCode.PROJECT_NOT_FOUND, ErrorCode.RATE_LIMITED)
  list(@Query() query: ListDocumentsQuery, @CurrentIdentity() identity: Identity): Promise<DocumentsList> {
    return this.documents.list(identity, query.project_id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a document and its passages (never a source again; its project room is told)' })
  @ApiNoContentResponse({ description: 'deleted' })
  @ApiRefusals('json', ...IDENTITY_REFUSALS, ErrorCode.VALIDATION_ERROR, ErrorCode.DOCUMENT_NOT_FOUND, ErrorCode.RATE_LIMITED)
  async delete(@Param() params: DocumentIdParam, @CurrentIdentity() identity: Identity): Promise<void> {
    await this.documents.delete(identity, params.id);
  }
}
