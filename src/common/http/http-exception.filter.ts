import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { toAssistantError } from '../errors/assistant-error.js';
import { normalizeError } from '../errors/to-app-exception.js';
import type { AppLogger } from '../logging/logger.js';
import { formatFrame, SSE_HEADERS } from '../sse/sse-writer.js';

// The streaming routes. Matched by path, not by handler, because a body the JSON parser refuses
// never reaches a handler.
const STREAMING_ROUTE = /^\/api\/v1\/messages\/(send|regenerate|test-sse|[^/]+\/stream)\/?$/;
// The AI SDK's routes: its transport shows a refused request's body text as the error message.
const AI_SDK_ROUTE = /^\/api\/v1\/chat(\/|$)/;

export interface RefusalCounter {
  refused(code: string): void;
}

// Every HTTP error leaves here. Outside a stream: {status_code, code, message, request_id}.
// On a streaming route, a refusal before generation starts is answered with its status and a
// text/event-stream body holding one assistant_error frame, so that both a frame parser and a
// `response.ok` check see it. On the AI SDK's routes it is plain text, `<CODE>: <message>`
// (the request id is in the x-request-id header). A refusal that says when to come back
// carries Retry-After.
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(
    private readonly logger: AppLogger,
    private readonly refusals?: RefusalCounter,
  ) {}

  catch(error: unknown, host: ArgumentsHost) {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const { exception, status, unexpected, outage } = normalizeError(error);
    if (unexpected) this.logger.error({ err: error, request_id: req.requestId, path: req.path }, 'unhandled error');
    if (outage) this.logger.warn({ err: error, request_id: req.requestId, path: req.path }, 'a dependency is unavailable');
    this.refusals?.refused(exception.code);
    if (res.headersSent) {
      res.end();
      return;
    }
    const retryAfterMs = exception.details.retry_after_ms;
    if (typeof retryAfterMs === 'number') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    if (AI_SDK_ROUTE.test(req.path)) {
      res.status(status).type('text/plain; charset=utf-8').send(`${exception.code}: ${exception.message}`);
      return;
    }
    if (!STREAMING_ROUTE.test(req.path)) {
      res.status(status).json({ status_code: status, code: exception.code, message: exception.message, request_id: req.requestId, ...exception.details });
      return;
    }
    res.status(status);
    for (const [name, value] of Object.entries(SSE_HEADERS)) res.setHeader(name, value);
    res.end(formatFrame({ event: 'assistant_error', data: { status_code: status, request_id: req.requestId, ...toAssistantError(exception) } }));
  }
}
