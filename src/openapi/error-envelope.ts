import { ErrorCode } from '../common/errors/error-code.js';

// How every error outside a stream is answered (the HTTP exception filter writes it).
export class ErrorEnvelope {
  status_code: number;
  code: ErrorCode;
  message: string;
  // The log has the detail of an INTERNAL_ERROR under this id (also in the x-request-id header).
  request_id: string;
}

// The assistant_error frame that a streaming route answers a refusal with: the frame's payload,
// plus the status and the request id.
export class StreamRefusal {
  status_code: number;
  request_id: string;
  chat_id?: string;
  message_id?: string;
  code: ErrorCode;
  error: string;
  retryable: boolean;
}
