import { ErrorCode, statusOf } from './error-code.js';

// The one domain exception: every refusal carries a contract code; transports map it.
export class AppException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    // Extra fields a client may use (e.g. resets_at for a quota refusal); never internals.
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppException';
  }

  get status(): number {
    return statusOf(this.code);
  }
}

export const validationError = (message: string) => new AppException(ErrorCode.VALIDATION_ERROR, message);
