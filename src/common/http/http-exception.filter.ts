import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isRetryable } from '../errors/error-code.js';
import { normalizeError } from '../errors/to-app-exception.js';
import type { AppLogger } from '../logging/logger.js';
import { formatFrame, SSE_HEADERS } from '../sse/sse-writer.js';

// The streaming routes. Matched by path, not by handler, because a body the JSON parser refuses
// never reaches a handler.
const STREAMING_ROUTE = /^\/api\/v1\/messages\/(send|regenerate|test-sse|[^/]+\/stream)\/?$/;

// Every HTTP error leaves here. Outside a stream: {status_code, code, message, request_id}.
// On a streaming route, a refusal before generation starts is answered with its status and a
// text/event-stream body holding one assistant_error frame, so that both a frame parser and a
// `response.ok` check see it.
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: AppLogger) {}

  catch(error: unknown, host: ArgumentsHost) {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const { exception, status, unexpected } = normalizeError(error);
    if (unexpected) this.logger.error({ err: error, request_id: req.requestId, path: req.path }, 'unhandled error');
    if (res.headersSent) {
      res.end();
      return;
    }
    const body = { status_code: status, code: exception.code, message: exception.message, request_id: req.requestId, ...exception.details };
    if (!STREAMING_ROUTE.test(req.path)) {
      res.status(status).json(body);
      return;
    }
    res.status(status);
    for (const [name, value] of Object.entries(SSE_HEADERS)) res.setHeader(name, value);
    const { message, ...rest } = body;
    res.end(formatFrame({ event: 'assistant_error', data: { ...rest, error: message, retryable: isRetryable(exception.code) } }));
  }
}
