import { DEFAULT_EXTRACTION_LIMITS, type ExtractionLimitsConfig } from '../../config/app-config.js';
import { DocumentUnreadable } from './document-unreadable.js';

// What reading one document may produce. Past a limit the document fails with a reason (never
// retried: the same file would fail the same way), long before it could take the worker's memory.
export interface ExtractionLimits {
  // Characters of text; `charsPerByteBound` when the file's size set it.
  maxChars: number;
  charsPerByteBound: boolean;
  maxPages: number;
  maxPassages: number;
  // PDF: what its compressed streams expand to, all together (see pdf-streams.ts).
  maxDecodedBytes: number;
}

// No real document holds more characters than this per byte of its file: text is at most one
// per byte, and a PDF's compressed page contents well under twenty.
export const CHARS_PER_BYTE = 20;

export function extractionLimits(config: ExtractionLimitsConfig, fileBytes: number): ExtractionLimits {
  const bySize = CHARS_PER_BYTE * Math.max(fileBytes, 1024);
  return {
    maxChars: Math.min(config.maxTextChars, bySize),
    charsPerByteBound: bySize < config.maxTextChars,
    maxPages: config.maxPages,
    maxPassages: config.maxPassages,
    maxDecodedBytes: config.maxPdfDecodedBytes,
  };
}

export const defaultLimits = (fileBytes: number) => extractionLimits(DEFAULT_EXTRACTION_LIMITS, fileBytes);

// Characters counted as text accumulates.
export class TextBudget {
  private used = 0;

  constructor(private readonly limits: ExtractionLimits) {}

  add(chars: number): void {
    this.used += chars;
    if (this.used > this.limits.maxChars) throw tooMuchText(this.limits);
  }
}

export function tooMuchText({ maxChars, charsPerByteBound }: ExtractionLimits): DocumentUnreadable {
  return new DocumentUnreadable(
    charsPerByteBound
      ? `The document holds more text than a file of its size can (over ${CHARS_PER_BYTE} characters per byte); it is not read`
      : `The document holds more than ${maxChars} characters of text (MAX_DOCUMENT_TEXT_CHARS); split it into smaller files`,
  );
}
