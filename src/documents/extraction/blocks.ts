// A document's text as extraction hands it to the chunker: paragraphs (or code blocks, list
// items, table rows), in order, each with the page and the heading it belongs to.
export interface TextBlock {
  text: string;
  // 1-based PDF page.
  page?: number;
  // The nearest heading above it (Markdown, HTML); a heading's own block carries itself.
  heading?: string;
}

// Line endings to \n, no trailing spaces, no stray control characters.
export function normalizeText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '')
    .replace(/\f/g, '\n\n')
    .replace(/[ \t]+$/gm, '');
}

// One line as normalizeText leaves it (form feeds and other control characters dropped).
export function cleanLine(line: string): string {
  return line.replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '').replace(/\f/g, '').replace(/[ \t]+$/, '');
}

// Paragraphs: runs of lines between blank lines.
export function paragraphs(text: string): string[] {
  return normalizeText(text)
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
}
