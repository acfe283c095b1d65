import { Catch, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { APP_LOGGER } from '../core.module.js';
import type { Request, Response } from 'express';
import { isRetryable } from '../errors/error-code.js';
import { normalizeError } from '../errors/to-app-exception.js';
import type { AppLogger } from '../logging/logger.js';
import { formatFrame, SSE_HEADERS } from '../sse/sse-writer.js';

// For streaming routes: a refusal before generation starts is answered with its HTTP status and a
// text/event-stream body holding one assistant_error frame, so that both a frame parser and a
// `response.ok` check see it.
@Catch()
export class SseExceptionFilter implements ExceptionFilter {
  constructor(@Inject(APP_LOGGER) private readonly logger: AppLogger) {}

  catch(error: unknown, host: ArgumentsHost) {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const { exception, status, unexpected } = normalizeError(error);
    if (unexpected) this.logger.error({ err: error, request_id: req.requestId, path: req.path }, 'unhandled error');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status);
    for (const [name, value] of Object.entries(SSE_HEADERS)) res.setHeader(name, value);
    res.end(
      formatFrame({
        event: 'assistant_error',
        data: {
          code: exception.code,
          error: exception.message,
          retryable: isRetryable(exception.code),
          status_code: status,
          request_id: req.requestId,
          ...exception.details,
        },
      }),
    );
  }
}
