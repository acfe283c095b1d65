// Whether an error says that PostgreSQL or Redis cannot be reached right now (refused, reset,
// timed out, shutting down), as opposed to a bug or a refused statement: such a request is
// answered 503, retryable, instead of 500.
export function isDependencyOutage(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; code?: unknown; syscall?: unknown; message?: unknown; cause?: unknown; driverError?: unknown; errors?: unknown };
  if (typeof e.name === 'string' && REDIS_ERRORS.has(e.name)) return true;
  const name = (error as object).constructor?.name;
  if (name && REDIS_ERRORS.has(name)) return true;
  if (typeof e.code === 'string' && OUTAGE_CODES.has(e.code)) return true;
  // A Unix socket whose server is stopped is gone, not refusing (the embedded PostgreSQL's).
  if (e.code === 'ENOENT' && e.syscall === 'connect') return true;
  if (typeof e.message === 'string' && OUTAGE_MESSAGES.some((m) => (e.message as string).includes(m))) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDependencyOutage(inner, depth + 1))) return true;
  return isDependencyOutage(e.driverError, depth + 1) || isDependencyOutage(e.cause, depth + 1);
}

// node-redis: a command that timed out, a client that is closed or reconnecting; ours: a wait
// that RedisService.bounded() cut short.
const REDIS_ERRORS = new Set([
  'ClientClosedError', 'ClientOfflineError', 'SocketClosedUnexpectedlyError', 'ConnectionTimeoutError', 'SocketTimeoutError',
  'TimeoutError', 'ReconnectStrategyError', 'DisconnectsClientError', 'RedisTimeoutError',
]);

// Socket errors, and PostgreSQL's admin_shutdown, crash_shutdown, cannot_connect_now,
// too_many_connections and connection_exception class.
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);

// What pg and pg-pool say when a connection dies or cannot be had.
const OUTAGE_MESSAGES = ['Connection terminated', 'timeout exceeded when trying to connect', 'Client has encountered a connection error', 'Redis is not connected'];
