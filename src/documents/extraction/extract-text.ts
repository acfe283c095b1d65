import { decodeText, MEDIA_TYPES, type DocumentKind } from './detect-type.js';
import type { TextBlock } from './blocks.js';
import { DocumentUnreadable } from './document-unreadable.js';
import { defaultLimits, tooMuchText, type ExtractionLimits } from './limits.js';
import { runCooperatively } from './cooperative.js';
import { htmlSteps } from './html.js';
import { markdownSteps } from './markdown.js';
import { pdfBlocks } from './pdf.js';
import { plainTextSteps } from './plain-text.js';

export interface ExtractOptions {
  // Absent: the defaults, for a file of this size.
  limits?: ExtractionLimits;
  // PDF: called after each page.
  onPage?: (done: number, total: number) => Promise<void> | void;
  signal?: AbortSignal;
}

// The blocks of text of an upload of a kind that detectDocumentType accepted.
export async function extractBlocks(kind: DocumentKind, bytes: Uint8Array, options: ExtractOptions = {}): Promise<TextBlock[]> {
  const limits = options.limits ?? defaultLimits(bytes.length);
  if (kind === 'pdf') return pdfBlocks(bytes, limits, options.onPage, options.signal);
  const text = decodeText(bytes);
  if (text === null) throw new DocumentUnreadable('The file is not valid text');
  // What a reader sees of text or markup is never longer than it.
  if (text.length > limits.maxChars) throw tooMuchText(limits);
  // Megabytes of markup take a while: the event loop gets its turns meanwhile.
  const steps = kind === 'html' ? htmlSteps(text) : kind === 'markdown' ? markdownSteps(text) : plainTextSteps(text);
  const blocks = await runCooperatively(steps, 8, options.signal);
  if (blocks.length === 0) throw new DocumentUnreadable('The file holds no text to read');
  return blocks;
}

const KIND_OF_MEDIA_TYPE = new Map(Object.entries(MEDIA_TYPES).map(([kind, mediaType]) => [mediaType, kind as DocumentKind]));

export function kindOfMediaType(mediaType: string): DocumentKind | undefined {
  return KIND_OF_MEDIA_TYPE.get(mediaType);
}
