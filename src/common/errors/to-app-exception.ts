import { HttpException } from '@nestjs/common';
import { AppException } from './app.exception.js';
import { isDependencyOutage } from './dependency-errors.js';
import { ErrorCode } from './error-code.js';

export interface NormalizedError {
  exception: AppException;
  // Status to answer with; usually the code's own, but e.g. 413 stays 413.
  status: number;
  // True when the error was not one we raised on purpose: it is logged with its stack.
  unexpected: boolean;
  // True when PostgreSQL or Redis could not be reached: logged as a warning.
  outage?: boolean;
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
    // Nest's file interceptors turn multer's size limits into a 413 as well.
    if (status === 413) return known(ErrorCode.PAYLOAD_TOO_LARGE, 'Request body is too large', 413);
    if (status >= 400 && status < 500) return known(ErrorCode.VALIDATION_ERROR, messageOf(error), 400);
  }
  if (isBodyParserError(error)) {
    if (error.status === 413) return known(ErrorCode.PAYLOAD_TOO_LARGE, 'Request body is too large', 413);
    return known(ErrorCode.VALIDATION_ERROR, error.type === 'entity.parse.failed' ? 'Request body is not valid JSON' : 'Request body cannot be read', 400);
  }
  if (isMulterError(error)) {
    if (error.code === 'LIMIT_FILE_SIZE' || error.code === 'LIMIT_FIELD_VALUE') return known(ErrorCode.PAYLOAD_TOO_LARGE, 'Upload is too large', 413);
    return known(ErrorCode.VALIDATION_ERROR, 'Upload cannot be read', 400);
  }
  // PostgreSQL or Redis away: retryable, and not a bug of ours.
  if (isDependencyOutage(error)) {
    const exception = new AppException(ErrorCode.SERVER_BUSY, 'A service this server depends on is unavailable; try again shortly', { retry_after_ms: 2000 });
    return { exception, status: 503, unexpected: false, outage: true };
  }
  // Express's own refusals (a route parameter that is not valid percent-encoding, ...).
  if (isClientHttpError(error)) return known(ErrorCode.VALIDATION_ERROR, 'Request cannot be read', 400);
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

function isMulterError(error: unknown): error is { code: string } {
  return error instanceof Error && error.name === 'MulterError' && typeof (error as { code?: unknown }).code === 'string';
}

function isClientHttpError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 && (error as { expose?: unknown }).expose === true;
}
