// The contract's error codes and the one place that maps them to HTTP statuses.
export enum ErrorCode {
  VALIDATION_ERROR = 'VALIDATION_ERROR',
  INVALID_ANON_ID = 'INVALID_ANON_ID',
  UNAUTHORIZED = 'UNAUTHORIZED',
  IDENTITY_REQUIRED = 'IDENTITY_REQUIRED',
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  EMAIL_TAKEN = 'EMAIL_TAKEN',
  CHAT_NOT_FOUND = 'CHAT_NOT_FOUND',
  MESSAGE_NOT_FOUND = 'MESSAGE_NOT_FOUND',
  NOT_FOUND = 'NOT_FOUND',
  UNKNOWN_MODEL = 'UNKNOWN_MODEL',
  INSUFFICIENT_BALANCE = 'INSUFFICIENT_BALANCE',
  ANON_LIMIT_REACHED = 'ANON_LIMIT_REACHED',
  RATE_LIMITED = 'RATE_LIMITED',
  IDEMPOTENCY_CONFLICT = 'IDEMPOTENCY_CONFLICT',
  PROVIDER_OVERLOADED = 'PROVIDER_OVERLOADED',
  PROVIDER_ERROR = 'PROVIDER_ERROR',
  STOPPED = 'STOPPED',
  INTERNAL_ERROR = 'INTERNAL_ERROR',
}

const STATUS: Record<ErrorCode, number> = {
  [ErrorCode.VALIDATION_ERROR]: 400,
  [ErrorCode.INVALID_ANON_ID]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.IDENTITY_REQUIRED]: 401,
  [ErrorCode.INVALID_CREDENTIALS]: 401,
  [ErrorCode.EMAIL_TAKEN]: 409,
  [ErrorCode.CHAT_NOT_FOUND]: 404,
  [ErrorCode.MESSAGE_NOT_FOUND]: 404,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.UNKNOWN_MODEL]: 400,
  [ErrorCode.INSUFFICIENT_BALANCE]: 402,
  [ErrorCode.ANON_LIMIT_REACHED]: 429,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.IDEMPOTENCY_CONFLICT]: 409,
  [ErrorCode.PROVIDER_OVERLOADED]: 503,
  [ErrorCode.PROVIDER_ERROR]: 502,
  [ErrorCode.STOPPED]: 499,
  [ErrorCode.INTERNAL_ERROR]: 500,
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

// Whether a client may usefully retry the same request later.
export function isRetryable(code: ErrorCode): boolean {
  return code === ErrorCode.PROVIDER_OVERLOADED || code === ErrorCode.RATE_LIMITED || code === ErrorCode.INTERNAL_ERROR;
}
