import { getDocumentProxy } from 'unpdf';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { paragraphs, type TextBlock } from './blocks.js';
import { DocumentUnreadable } from './document-unreadable.js';
import { TextBudget, type ExtractionLimits } from './limits.js';
import { measurePdfStreams } from './pdf-streams.js';

interface TextItem {
  str?: string;
  hasEOL?: boolean;
}

// The text of every page through PDF.js (unpdf's build for servers: pure JavaScript, no
// canvas, nothing fetched), page by page and yielding to the event loop between pages so that
// a long PDF does not hold up the streams this process is serving. Within `limits`: what its
// streams expand to is measured first (see pdf-streams.ts), its pages counted before any is
// read, and its characters counted as each page's text streams out of PDF.js.
export async function pdfBlocks(bytes: Uint8Array, limits: ExtractionLimits, onPage?: (done: number, total: number) => Promise<void> | void, signal?: AbortSignal): Promise<TextBlock[]> {
  await measurePdfStreams(bytes, limits.maxDecodedBytes, signal);
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // PDF.js takes the buffer over: give it a copy. No font loading: text only.
    pdf = await getDocumentProxy(new Uint8Array(bytes), { disableFontFace: true, useSystemFonts: false, verbosity: 0 });
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'PasswordException') throw new DocumentUnreadable('The PDF is encrypted with a password');
    throw new DocumentUnreadable('The PDF could not be read (it is damaged or not a PDF)');
  }
  try {
    if (pdf.numPages > limits.maxPages) {
      throw new DocumentUnreadable(`The PDF has ${pdf.numPages} pages, more than the ${limits.maxPages} read (MAX_DOCUMENT_PAGES); split it into smaller files`);
    }
    const budget = new TextBudget(limits);
    const blocks: TextBlock[] = [];
    for (let number = 1; number <= pdf.numPages; number++) {
      if (signal?.aborted) throw signal.reason;
      const page = await pdf.getPage(number);
      const raw = await pageText(page, budget);
      page.cleanup();
      for (const paragraph of paragraphs(raw)) blocks.push({ text: joinLines(paragraph), page: number });
      await onPage?.(number, pdf.numPages);
      await yieldToLoop();
    }
    if (blocks.length === 0) throw new DocumentUnreadable('The PDF has no text to read (a scanned document needs text recognition first)');
    return blocks;
  } finally {
    await pdf.loadingTask.destroy().catch(() => undefined);
  }
}

type PdfPage = Awaited<ReturnType<Awaited<ReturnType<typeof getDocumentProxy>>['getPage']>>;

// A page's text as PDF.js streams it out, in batches of items: counted batch by batch, and
// given up (PDF.js told to stop) as soon as the document's text is over its limit, rather than
// gathered whole first.
async function pageText(page: PdfPage, budget: TextBudget): Promise<string> {
  const reader = (page.streamTextContent() as ReadableStream<{ items: TextItem[] }>).getReader();
  const parts: string[] = [];
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const item of value.items) {
        const piece = (item.str ?? '') + (item.hasEOL ? '\n' : '');
        budget.add(piece.length);
        parts.push(piece);
      }
    }
    finished = true;
    return parts.join('');
  } finally {
    // PDF.js wants a reason (an Error) to stop the page's extraction.
    if (!finished) await reader.cancel(new Error('text limit reached')).catch(() => undefined);
    reader.releaseLock();
  }
}

// PDF lines are where the page was wide enough, not where sentences end: one paragraph's lines
// become one line, and words hyphenated over a line break are joined again.
function joinLines(text: string): string {
  return text
    .replace(/(\p{Ll})-\n(\p{Ll})/gu, '$1$2')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/[ \t]{2,}/g, ' ')
    .trim();
}
