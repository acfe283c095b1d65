import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { AppLogger } from '../logging/logger.js';
import { normalizeError } from '../errors/to-app-exception.js';

// Every error outside a stream leaves as {status_code, code, message, request_id}.
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: AppLogger) {}

  catch(error: unknown, host: ArgumentsHost) {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const { exception, status, unexpected } = normalizeError(error);
    if (unexpected) this.logger.error({ err: error, request_id: req.requestId, path: req.path }, 'unhandled error');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json({
      status_code: status,
      code: exception.code,
      message: exception.message,
      request_id: req.requestId,
      ...exception.details,
    });
  }
}
