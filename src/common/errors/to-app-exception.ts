import { HttpException } from '@nestjs/common';
import { AppException } from './app.exception.js';
import { ErrorCode } from './error-code.js';

export interface NormalizedError {
  exception: AppException;
  // Status to answer with; usually the code's own, but e.g. 413 stays 413.
  status: number;
  // True when the error was not one we raised on purpose: it is logged with its stack.
  unexpected: boolean;
}

// Turns anything thrown into a contract error. Unknown errors become INTERNAL_ERROR and keep
// their detail out of the message.
export function normalizeError(error: unknown): NormalizedError {
  if (error instanceof AppException) return { exception: error, status: error.status, unexpected: false };
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status === 404) return known(ErrorCode.NOT_FOUND, 'Not found', 404);
    if (status === 401) return known(ErrorCode.UNAUTHORIZED, 'Authentication required', 401);
    if (status === 429) return known(ErrorCode.RATE_LIMITED, 'Too many requests', 429);
    if (status === 413) return known(ErrorCode.VALIDATION_ERROR, 'Request body is too large', 413);
    if (status >= 400 && status < 500) return known(ErrorCode.VALIDATION_ERROR, messageOf(error), 400);
  }
  if (isBodyParserError(error)) {
    const status = error.status === 413 ? 413 : 400;
    return known(ErrorCode.VALIDATION_ERROR, status === 413 ? 'Request body is too large' : 'Request body is not valid JSON', status);
  }
  return { exception: new AppException(ErrorCode.INTERNAL_ERROR, 'Internal server error'), status: 500, unexpected: true };
}

function known(code: ErrorCode, message: string, status: number): NormalizedError {
  return { exception: new AppException(code, message), status, unexpected: false };
}

function messageOf(error: HttpException): string {
  const response = error.getResponse();
  if (typeof response === 'object' && response && 'message' in response) {
    const message = (response as { message: unknown }).message;
    if (Array.isArray(message)) return message.join('; ');
    if (typeof message === 'string') return message;
  }
  return error.message;
}

function isBodyParserError(error: unknown): error is { status: number; type: string } {
  return typeof error === 'object' && error !== null && 'type' in error && 'status' in error
    && typeof (error as { type: unknown }).type === 'string' && String((error as { type: string }).type).startsWith('entity.');
}
