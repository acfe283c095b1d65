import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../errors/error-code.js';
import type { AppLogger } from '../logging/logger.js';

// Requests that Node's HTTP parser refuses before any middleware runs (headers past
// MAX_HEADER_BYTES, bytes that are not HTTP, a request that took too long to arrive) get the
// contract's envelope too, instead of Node's bare "400 Bad Request".
export function answerClientErrors(server: Server, logger: AppLogger, maxHeaderBytes: number): void {
  // Read by Node for every new connection.
  (server as Server & { maxHeaderSize?: number }).maxHeaderSize = maxHeaderBytes;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    const [status, code, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [413, ErrorCode.PAYLOAD_TOO_LARGE, `Request headers are larger than ${maxHeaderBytes} bytes`]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, ErrorCode.VALIDATION_ERROR, 'The request took too long to arrive']
          : [400, ErrorCode.VALIDATION_ERROR, 'The request is not valid HTTP'];
    logger.info({ request_id: requestId, code: error.code, status }, 'request refused by the HTTP parser');
    const body = JSON.stringify({ status_code: status, code, message, request_id: requestId });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        `x-request-id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
}
