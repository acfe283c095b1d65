import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../../common/core.module.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import type { AppConfig } from '../../config/app-config.js';

// The upload bytes this instance holds in memory at once (MAX_UPLOAD_BYTES_IN_FLIGHT). An upload
// reserves what it may hold before its body is read (its declared length, or MAX_DOCUMENT_BYTES
// and framing when it declares none) and gives it back when it ends, however it ends. One that
// does not fit is refused at once: many uploads arriving together cannot add up to more memory
// than the budget, whatever their senders do.
@Injectable()
export class UploadBudget {
  private reserved = 0;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  // A release function, to be called once (later calls do nothing).
  reserve(bytes: number): () => void {
    const limit = this.config.maxUploadBytesInFlight;
    if (this.reserved + bytes > limit) {
      throw new AppException(ErrorCode.SERVER_BUSY, 'This server is receiving as many uploads as it can hold; try again shortly', { retry_after_ms: 2000 });
    }
    this.reserved += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved -= bytes;
    };
  }
}
