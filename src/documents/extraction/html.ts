import { Parser } from 'htmlparser2';
import type { TextBlock } from './blocks.js';
import { runToEnd } from './cooperative.js';

// The markup is fed to the parser in pieces of this many characters, yielding between them.
const PIECE = 16_384;

// Elements whose content is not text a reader sees.
const SKIPPED = new Set(['script', 'style', 'noscript', 'template', 'svg', 'math', 'head', 'iframe', 'object', 'canvas', 'select', 'button']);
// Elements that end a block of text.
const BLOCKS = new Set([
  'address', 'article', 'aside', 'blockquote', 'body', 'caption', 'dd', 'details', 'dialog', 'div', 'dl', 'dt', 'fieldset',
  'figcaption', 'figure', 'footer', 'form', 'header', 'hr', 'html', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section',
  'summary', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'ul',
]);
const HEADINGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);

// The text a reader of the page sees, in blocks, with the headings it sits under. Streams
// through htmlparser2 (entities decoded, broken markup tolerated); no DOM is built.
export function htmlBlocks(html: string): TextBlock[] {
  return runToEnd(htmlSteps(html));
}

// Yields between pieces of markup (see cooperative.ts).
export function* htmlSteps(html: string): Generator<void, TextBlock[], undefined> {
  const blocks: TextBlock[] = [];
  let heading: string | undefined;
  let title: string | undefined;
  let text = '';
  let skipping = 0;
  let inTitle = false;
  let inHeading = false;
  let inPre = 0;

  const flush = () => {
    const value = inPre ? text.replace(/^\n+|\s+$/g, '') : text.replace(/[ \t\n\r\f]+/g, ' ').trim();
    if (value) blocks.push({ text: value, ...(heading ? { heading } : {}) });
    text = '';
  };

  const parser = new Parser(
    {
      onopentag(name) {
        if (name === 'title') inTitle = true;
        if (SKIPPED.has(name)) {
          skipping++;
          return;
        }
        if (skipping) return;
        if (HEADINGS.has(name)) {
          flush();
          inHeading = true;
        } else if (BLOCKS.has(name)) {
          flush();
          if (name === 'li') text = '- ';
        } else if (name === 'br') {
          text += '\n';
        }
        if (name === 'pre') inPre++;
        if (name === 'td' || name === 'th') text += ' ';
      },
      ontext(chunk) {
        if (inTitle) title = (title ?? '') + chunk;
        if (skipping) return;
        text += chunk;
      },
      onclosetag(name) {
        if (name === 'title') inTitle = false;
        if (SKIPPED.has(name)) {
          skipping = Math.max(0, skipping - 1);
          return;
        }
        if (skipping) return;
        if (HEADINGS.has(name) && inHeading) {
          inHeading = false;
          const value = text.replace(/\s+/g, ' ').trim();
          if (value) heading = value.slice(0, 300);
          flush();
        } else if (BLOCKS.has(name)) {
          flush();
        }
        if (name === 'pre') inPre = Math.max(0, inPre - 1);
      },
    },
    { decodeEntities: true, lowerCaseTags: true, recognizeSelfClosing: true },
  );
  for (let at = 0; at < html.length; at += PIECE) {
    parser.write(html.slice(at, at + PIECE));
    yield;
  }
  parser.end();
  flush();
  // A page with nothing but a title still says something.
  const pageTitle = title?.replace(/\s+/g, ' ').trim();
  if (blocks.length === 0 && pageTitle) blocks.push({ text: pageTitle });
  return blocks;
}
