import { cleanLine, type TextBlock } from './blocks.js';
import { runToEnd } from './cooperative.js';

const ATX = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^ {0,3}(```+|~~~+)/;
const SETEXT = /^ {0,3}(=+|-+)\s*$/;

// Markdown kept as written (the model reads it well, and its marks cost little), cut into
// blocks: paragraphs, whole fenced code blocks, headings, each under its nearest heading.
export function markdownBlocks(source: string): TextBlock[] {
  return runToEnd(markdownSteps(source));
}

// Yields every few thousand lines (see cooperative.ts).
export function* markdownSteps(source: string): Generator<void, TextBlock[], undefined> {
  // Line by line: no pass over the whole text at once.
  const lines = source.split(/\r\n?|\n/);
  const blocks: TextBlock[] = [];
  let heading: string | undefined;
  let current: string[] = [];
  let fence: string | null = null;

  const flush = () => {
    const text = current.join('\n').trim();
    if (text) blocks.push({ text, ...(heading ? { heading } : {}) });
    current = [];
  };

  for (let i = 0; i < lines.length; i++) {
    if (i % 2048 === 2047) yield;
    const line = (lines[i] = cleanLine(lines[i]));
    if (fence) {
      current.push(line);
      if (line.trimStart().startsWith(fence)) {
        fence = null;
        flush();
      }
      continue;
    }
    const opening = FENCE.exec(line);
    if (opening) {
      flush();
      fence = opening[1];
      current.push(line);
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      flush();
      heading = headingText(atx[2]);
      current.push(line);
      flush();
      continue;
    }
    // "Title" over "=====" or "-----" (but "---" after a blank line is a rule).
    if (SETEXT.test(line) && current.length === 1 && i > 0 && lines[i - 1].trim() !== '') {
      heading = headingText(current[0]);
      current.push(line);
      flush();
      continue;
    }
    if (line.trim() === '') {
      flush();
      continue;
    }
    current.push(line);
  }
  flush();
  return blocks;
}

// A heading's words: no emphasis marks, links reduced to their text.
function headingText(raw: string): string | undefined {
  const text = raw
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`~]/g, '')
    .trim()
    .slice(0, 300);
  return text || undefined;
}
