// What an upload is, decided from its bytes (never from its name or the client's Content-Type):
// PDF by its header, HTML by markup sniffing (the WHATWG MIME sniffing patterns), Markdown and
// plain text as text in UTF-8 (or UTF-16 with a byte order mark) without NUL bytes.

export type DocumentKind = 'pdf' | 'html' | 'markdown' | 'text';

export type Detection =
  | { supported: true; kind: DocumentKind; mediaType: string }
  | { supported: false; reason: string };

export const MEDIA_TYPES: Record<DocumentKind, string> = {
  pdf: 'application/pdf',
  html: 'text/html',
  markdown: 'text/markdown',
  text: 'text/plain',
};

// PDF readers accept the header anywhere in the first 1024 bytes.
const PDF_HEADER_WINDOW = 1024;
// Control characters other than tab, line feed, form feed and carriage return, past which a
// "text" is taken for binary data.
const MAX_CONTROL_RATIO = 0.01;

export function detectDocumentType(bytes: Uint8Array, filename = ''): Detection {
  if (bytes.length === 0) return { supported: false, reason: 'The file is empty' };
  if (hasPdfHeader(bytes)) return { supported: true, kind: 'pdf', mediaType: MEDIA_TYPES.pdf };
  const text = decodeText(bytes);
  if (text === null) return { supported: false, reason: 'The file is not a PDF, and not text in UTF-8 or UTF-16' };
  if (text.includes('\0')) return { supported: false, reason: 'The file holds binary data' };
  if (controlRatio(text) > MAX_CONTROL_RATIO) return { supported: false, reason: 'The file holds binary data' };
  if (text.trim() === '') return { supported: false, reason: 'The file holds no text' };
  const found = kind(text, filename);
  return { supported: true, kind: found, mediaType: MEDIA_TYPES[found] };
}

// A whole HTML document is HTML whatever its name; a fragment that sniffs as HTML (a Markdown
// file may well start with "<!--" or "<p>") is Markdown when the name says so.
function kind(text: string, filename: string): DocumentKind {
  const start = text.trimStart().slice(0, 1024).toLowerCase();
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<(!doctype html|html)[\s>]/.test(start)) return 'html';
  if (MARKDOWN_NAME.test(filename)) return 'markdown';
  if (looksLikeHtml(text)) return 'html';
  return looksLikeMarkdown(text) ? 'markdown' : 'text';
}

function hasPdfHeader(bytes: Uint8Array): boolean {
  const window = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, PDF_HEADER_WINDOW));
  return window.indexOf('%PDF-', 0, 'latin1') !== -1;
}

// The text of a text file, or null when it is not valid UTF-8 (nor UTF-16 with a BOM).
export function decodeText(bytes: Uint8Array): string | null {
  try {
    if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le', { fatal: true }).decode(bytes.subarray(2));
    if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be', { fatal: true }).decode(bytes.subarray(2));
    // TextDecoder drops a UTF-8 BOM by itself.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function controlRatio(text: string): number {
  const sample = text.length > 65_536 ? text.slice(0, 65_536) : text;
  let controls = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d) || c === 0x7f) controls++;
  }
  return controls / sample.length;
}

// The tags the WHATWG sniffing algorithm takes for HTML when a resource starts with one (after
// white space), each followed by a space or ">"; "<!--" too.
const HTML_STARTS = ['!doctype html', 'html', 'head', 'script', 'iframe', 'h1', 'div', 'font', 'table', 'a', 'style', 'title', 'b', 'body', 'br', 'p', '!--'];

export function looksLikeHtml(text: string): boolean {
  let start = text.trimStart().slice(0, 1024).toLowerCase();
  // XHTML: an XML declaration, then the document.
  if (start.startsWith('<?xml')) {
    return /<html[\s>]/.test(start) || /<!doctype html[\s>]/.test(start);
  }
  if (!start.startsWith('<')) return false;
  start = start.slice(1);
  return HTML_STARTS.some((tag) => {
    if (!start.startsWith(tag)) return false;
    const next = start.charAt(tag.length);
    return tag === '!--' || next === '>' || next === ' ' || next === '\t' || next === '\n' || next === '\r' || next === '\f';
  });
}

const MARKDOWN_NAME = /\.(md|markdown|mdx|mkd)$/i;
const MARKDOWN_LINES = [
  /^#{1,6}\s+\S/, // ATX heading
  /^(```|~~~)/, // code fence
  /^\s*[-*+]\s+\S/, // bullet
  /^\s*\d+[.)]\s+\S/, // numbered item
  /^>\s?\S/, // quote
  /^(=+|-+)\s*$/, // setext underline
  /^\|.*\|\s*$/, // table row
];
const MARKDOWN_INLINE = /\[[^\]\n]+\]\([^)\s]+\)|\*\*[^*\n]+\*\*|`[^`\n]+`/;

// Markdown and plain text are both text: Markdown's own marks (a heading and a few more) tell.
export function looksLikeMarkdown(text: string): boolean {
  let headings = 0;
  let marks = 0;
  const lines = text.slice(0, 65_536).split('\n');
  for (const line of lines) {
    if (/^#{1,6}\s+\S/.test(line)) headings++;
    if (MARKDOWN_LINES.some((re) => re.test(line)) || MARKDOWN_INLINE.test(line)) marks++;
    if (headings >= 1 && marks >= 3) return true;
  }
  return false;
}
