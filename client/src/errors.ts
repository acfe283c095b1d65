import { readEventStream } from './event-stream.js';
import type { ErrorCodeName, RefusalAck } from './types.js';

export interface ChatApiErrorInit {
  code: ErrorCodeName;
  message: string;
  status?: number;
  retryable?: boolean;
  retryAfterMs?: number;
  requestId?: string;
  messageId?: string;
  lastEventId?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
}

// Every failure the client reports: a refusal (HTTP or socket), or a failure that never got an
// answer (NETWORK_ERROR, TIMEOUT, PROTOCOL_ERROR). `status` is 0 where there was no HTTP status.
export class ChatApiError extends Error {
  readonly code: ErrorCodeName;
  readonly status: number;
  readonly retryable: boolean;
  // From Retry-After (or the body's retry_after_ms): how long to wait before trying again.
  readonly retryAfterMs?: number;
  readonly requestId?: string;
  // For a stream that broke off: what a later resume(messageId, lastEventId) needs.
  readonly messageId?: string;
  readonly lastEventId?: string;
  // The error body's fields as the server sent them (resets_at, credits_balance, …).
  readonly details: Record<string, unknown>;

  constructor(init: ChatApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ChatApiError';
    this.code = init.code;
    this.status = init.status ?? 0;
    this.retryable = init.retryable ?? false;
    this.retryAfterMs = init.retryAfterMs;
    this.requestId = init.requestId;
    this.messageId = init.messageId;
    this.lastEventId = init.lastEventId;
    this.details = init.details ?? {};
  }
}

// HTTP statuses worth trying again: the same request may well succeed later.
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

// A non-2xx answer: a streaming route's one assistant_error frame, or the JSON error body
// {status_code, code, message, request_id}, or (from a proxy, say) neither.
export async function errorFromResponse(response: Response): Promise<ChatApiError> {
  const type = response.headers.get('content-type') ?? '';
  let body: Record<string, unknown> | undefined;
  try {
    if (type.includes('text/event-stream') && response.body) {
      for await (const frame of readEventStream(response.body)) {
        if (frame.event !== 'assistant_error') continue;
        body = asRecord(JSON.parse(frame.data));
        break;
      }
    } else if (type.includes('json')) {
      body = asRecord(await response.json());
    } else {
      await response.body?.cancel();
    }
  } catch {
    // an unreadable body: the status alone tells
  }
  const status = response.status;
  const fromBody = typeof body?.retry_after_ms === 'number' ? body.retry_after_ms : undefined;
  return new ChatApiError({
    code: typeof body?.code === 'string' ? body.code : 'INTERNAL_ERROR',
    message: text(body?.error) ?? text(body?.message) ?? `The server answered ${status}`,
    status,
    retryable: typeof body?.retryable === 'boolean' ? body.retryable : isTransientStatus(status),
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) ?? fromBody,
    requestId: text(body?.request_id) ?? response.headers.get('x-request-id') ?? undefined,
    messageId: text(body?.message_id),
    details: body,
  });
}

// A socket event's refusal: its acknowledgement {error: {code, message, …}}.
export function errorFromAck(ack: RefusalAck): ChatApiError {
  const { code, message, ...details } = ack.error;
  return new ChatApiError({
    code,
    message,
    retryable: code === 'RATE_LIMITED' || code === 'INTERNAL_ERROR',
    retryAfterMs: typeof details.retry_after_ms === 'number' ? details.retry_after_ms : undefined,
    details,
  });
}

export function isRefusalAck(answer: unknown): answer is RefusalAck {
  const error = (answer as { error?: unknown } | null | undefined)?.error;
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
}

// Retry-After is either seconds or an HTTP date.
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
