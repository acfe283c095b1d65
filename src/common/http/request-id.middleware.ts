import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { AppLogger } from '../logging/logger.js';
import { requestContext } from '../logging/request-context.js';

const CLIENT_ID = /^[A-Za-z0-9._-]{1,64}$/;

declare module 'express-serve-static-core' {
  interface Request {
    requestId: string;
    // performance.now() when the request arrived: where time to first delta starts.
    receivedAt: number;
  }
}

// Gives every request an id (the client's x-request-id when sane), echoes it back, runs the rest
// of the request inside its context and writes one access-log line when the response ends.
export function requestIdMiddleware(logger: AppLogger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.header('x-request-id');
    const requestId = incoming && CLIENT_ID.test(incoming) ? incoming : randomUUID();
    req.requestId = requestId;
    req.receivedAt = performance.now();
    res.setHeader('x-request-id', requestId);
    const started = process.hrtime.bigint();
    res.on('close', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info(
        { request_id: requestId, method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 },
        'request',
      );
    });
    requestContext.run({ requestId }, next);
  };
}
