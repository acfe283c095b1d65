import busboy from 'busboy';
import type { Request } from 'express';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { MULTIPART_OVERHEAD } from '../../config/app-config.js';

export interface Upload {
  filename: string;
  bytes: Buffer;
  fields: Record<string, string>;
}

export interface UploadLimits {
  // The largest file.
  maxBytes: number;
  // The longest the body may take to arrive.
  timeoutMs: number;
  // The least it must send per second, over each RATE_WINDOW_MS (0: no minimum).
  minBytesPerSecond: number;
}

// The minimum rate is measured over this long, so that a pause of a second or two on a mobile
// link does not cut an upload that is otherwise going well.
export const RATE_WINDOW_MS = 5_000;

const tooLarge = (maxBytes: number) => new AppException(ErrorCode.PAYLOAD_TOO_LARGE, `The file is larger than ${maxBytes} bytes (MAX_DOCUMENT_BYTES)`, { max_bytes: maxBytes });
const invalid = (message: string, details?: Record<string, unknown>) => new AppException(ErrorCode.VALIDATION_ERROR, message, details);

// What an upload may come to hold, known before its body is read: its declared length, or
// (chunked) the largest file and its framing. Refuses what is not a multipart upload, and a
// declared length over the limit, without reading a byte.
export function uploadReservation(req: Request, maxBytes: number): number {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\b/i.test(type)) throw invalid('Send the document as multipart/form-data with a "file" field');
  const declared = declaredLength(req);
  if (declared !== undefined && declared > maxBytes + MULTIPART_OVERHEAD) throw tooLarge(maxBytes);
  return declared ?? maxBytes + MULTIPART_OVERHEAD;
}

// Reads a multipart/form-data upload as it streams in: one `file` part held in memory up to
// `maxBytes`, and small text fields. It stops reading at the limit: a body that grows past it is
// refused at that byte. One that arrives too slowly (under minBytesPerSecond over a window, or
// not whole within timeoutMs) is cut with VALIDATION_ERROR: it is the client's request that
// failed, and 400 is the contract's status for that (PAYLOAD_TOO_LARGE would tell the client
// to send less, when it should send faster). `signal` aborts the reading with its reason.
// However it fails, the caller answers and ends the request (see endAfterRefusal): nothing
// more of the body is kept.
// With a declared length the file is written into one buffer of that size as it arrives: the
// upload is held once, never as chunks and their concatenation side by side.
export function readUpload(req: Request, limits: UploadLimits, signal?: AbortSignal): Promise<Upload> {
  const { maxBytes } = limits;
  return new Promise<Upload>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // busboy signals its limit once a file reaches it: one byte more than allowed.
      const busboyLimits = { files: 1, fileSize: maxBytes + 1, fields: 10, fieldSize: 1024, parts: 12, fieldNameSize: 64 };
      parser = busboy({ headers: req.headers, limits: busboyLimits, defParamCharset: 'utf8' });
    } catch {
      reject(invalid('The multipart/form-data body has no boundary'));
      return;
    }
    const fields: Record<string, string> = {};
    let file: { filename: string; body: FileBody } | undefined;
    let settled = false;
    const timers = pace(req, limits, (error) => fail(error));
    const fail = (error: AppException) => {
      if (settled) return;
      settled = true;
      timers.stop();
      req.unpipe(parser);
      // Paused until the caller ends it (endAfterRefusal: drained and dropped, or closed).
      req.pause();
      reject(error);
    };

    if (signal?.aborted) return fail(signal.reason as AppException);
    signal?.addEventListener('abort', () => fail(signal.reason as AppException), { once: true });

    parser.on('file', (name, stream, info) => {
      if (name !== 'file') {
        stream.resume();
        fail(invalid(`Unexpected file field "${name}": the document goes in "file"`));
        return;
      }
      const declared = declaredLength(req);
      const current = { filename: cleanFilename(info.filename), body: new FileBody(declared === undefined ? undefined : Math.min(declared, maxBytes + 1)) };
      file = current;
      stream.on('data', (chunk: Buffer) => current.body.append(chunk));
      stream.on('limit', () => fail(tooLarge(maxBytes)));
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(invalid(`The field "${name}" is too long`));
      else fields[name] = value;
    });
    parser.on('filesLimit', () => fail(invalid('Send one file per upload')));
    parser.on('fieldsLimit', () => fail(invalid('Too many fields')));
    parser.on('partsLimit', () => fail(invalid('Too many parts')));
    parser.on('error', () => fail(invalid('The multipart/form-data body is malformed')));
    parser.on('close', () => {
      if (settled) return;
      if (!file) return fail(invalid('The upload has no "file" field'));
      settled = true;
      timers.stop();
      resolve({ filename: file.filename, bytes: file.body.bytes(), fields });
    });
    // The client went away before the end of its body.
    req.on('close', () => {
      if (!req.complete) fail(invalid('The upload was interrupted'));
    });
    req.pipe(parser);
  });
}

// The file's bytes as they arrive: into one buffer when its size is known ahead, else as chunks
// joined once at the end.
class FileBody {
  private readonly buffer?: Buffer;
  private filled = 0;
  // Only without a declared length (Node's parser holds a body to the length it declares).
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(capacity: number | undefined) {
    if (capacity !== undefined) this.buffer = Buffer.allocUnsafe(capacity);
  }

  append(chunk: Buffer): void {
    if (this.buffer && this.chunks.length === 0 && this.filled + chunk.length <= this.buffer.length) {
      chunk.copy(this.buffer, this.filled);
      this.filled += chunk.length;
    } else {
      this.chunks.push(chunk);
    }
    this.size += chunk.length;
  }

  bytes(): Buffer {
    const head = this.buffer?.subarray(0, this.filled);
    if (this.chunks.length === 0) return head ?? Buffer.alloc(0);
    return Buffer.concat(head ? [head, ...this.chunks] : this.chunks, this.size);
  }
}

// The deadline and the minimum rate of one upload's body.
function pace(req: Request, { timeoutMs, minBytesPerSecond }: UploadLimits, cut: (error: AppException) => void): { stop(): void } {
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.length;
  };
  req.on('data', count);
  const deadline = setTimeout(() => cut(invalid(`The upload did not arrive within ${timeoutMs} ms (UPLOAD_TIMEOUT_MS)`, { timeout_ms: timeoutMs })), timeoutMs);
  // Bytes received at each of the last few seconds, oldest first.
  const marks: number[] = [0];
  const perWindow = minBytesPerSecond * (RATE_WINDOW_MS / 1000);
  const rate =
    minBytesPerSecond > 0
      ? setInterval(() => {
          marks.push(received);
          if (marks.length <= RATE_WINDOW_MS / 1000) return;
          const since = marks.shift()!;
          if (received - since < perWindow) {
            cut(invalid(`The upload arrived too slowly (under ${minBytesPerSecond} bytes per second, UPLOAD_MIN_BYTES_PER_SECOND)`, { min_bytes_per_second: minBytesPerSecond }));
          }
        }, 1000)
      : undefined;
  deadline.unref();
  rate?.unref();
  return {
    stop: () => {
      clearTimeout(deadline);
      clearInterval(rate);
      req.off('data', count);
    },
  };
}

function declaredLength(req: Request): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

// How long the rest of a refused body of a declared length may take to be read and dropped.
const DRAIN_MS = 5_000;

// After a refused upload whose body was not read to its end. A connection closed with unread
// bytes is reset, and a reset makes a client that is still sending lose the answer it had not
// read yet. So a body of a declared length (by then never more than MAX_DOCUMENT_BYTES and its
// framing) is read to its end and dropped, nothing kept, within DRAIN_MS, and the connection
// stays usable. A body of unknown length (chunked), or one declared too large, is not read: the
// answer says the connection closes, and Node's server closes it once the answer is out.
export function endAfterRefusal(req: Request, maxBytes: number): void {
  if (req.complete || req.res?.headersSent) return;
  const declared = declaredLength(req);
  if (declared === undefined || declared > maxBytes + MULTIPART_OVERHEAD) {
    req.res?.setHeader('Connection', 'close');
    return;
  }
  const timer = setTimeout(() => req.destroy(), DRAIN_MS);
  timer.unref();
  const done = () => clearTimeout(timer);
  req.once('end', done).once('close', done);
  req.resume();
}

// A name to show: its last path segment, without control characters, at most 255 characters.
export function cleanFilename(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return (base || 'document').slice(0, 255);
}
