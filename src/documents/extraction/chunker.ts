import type { TextBlock } from './blocks.js';
import { runCooperatively, runToEnd } from './cooperative.js';
import { DocumentUnreadable } from './document-unreadable.js';

export interface Passage {
  ordinal: number;
  content: string;
  page?: number;
  heading?: string;
}

export interface ChunkOptions {
  // A passage is closed once it would grow past `target` characters; one never exceeds `max`.
  target: number;
  max: number;
  // About this many characters (whole sentences) of a passage's end start the next one.
  overlap: number;
  // For the sentence segmenter (Intl.Segmenter): sentence rules differ little between languages.
  locale?: string;
  // Past this many passages the document is not read (DocumentUnreadable), checked as they are cut.
  maxPassages?: number;
}

export const DEFAULT_CHUNKING: ChunkOptions = { target: 900, max: 1400, overlap: 200 };

interface Unit {
  text: string;
  // The first sentence of a paragraph.
  opensParagraph: boolean;
}

// Cuts a document's blocks into overlapping passages for retrieval:
// - a passage never spans two pages nor two headings (its page and heading are exact);
// - passages end at paragraph borders when one is near, else at a sentence border; a sentence
//   longer than `max` (a table row, a list without full stops) is cut between words;
// - each passage after the first of a section begins with the last sentences of the one before
//   it (about `overlap` characters), so that a fact on a border is whole in one of them.
export function chunkBlocks(blocks: TextBlock[], options: ChunkOptions = DEFAULT_CHUNKING): Passage[] {
  return runToEnd(chunkSteps(blocks, options));
}

// The same, giving the event loop a turn every few milliseconds (a large document takes a few
// hundred milliseconds to segment).
export function chunkBlocksCooperatively(blocks: TextBlock[], options: ChunkOptions = DEFAULT_CHUNKING, signal?: AbortSignal): Promise<Passage[]> {
  return runCooperatively(chunkSteps(blocks, options), 8, signal);
}

// Yields between pieces of work (see cooperative.ts); returns the passages.
function* chunkSteps(blocks: TextBlock[], options: ChunkOptions): Generator<void, Passage[], undefined> {
  const segmenter = new Intl.Segmenter(options.locale ?? 'en', { granularity: 'sentence' });
  const passages: Passage[] = [];
  for (const section of sections(blocks)) {
    const units: Unit[] = [];
    for (const text of section.texts) {
      yield* unitsOf(text, segmenter, options.max, units);
      yield;
    }
    yield;
    for (const content of yield* pack(units, options)) {
      if (options.maxPassages !== undefined && passages.length >= options.maxPassages) {
        throw new DocumentUnreadable(`The document splits into more than ${options.maxPassages} passages (MAX_DOCUMENT_PASSAGES); split it into smaller files`);
      }
      passages.push({
        ordinal: passages.length,
        content,
        ...(section.page !== undefined ? { page: section.page } : {}),
        ...(section.heading !== undefined ? { heading: section.heading } : {}),
      });
    }
  }
  return passages;
}

// Consecutive blocks of one page and one heading.
function sections(blocks: TextBlock[]): { page?: number; heading?: string; texts: string[] }[] {
  const out: { page?: number; heading?: string; texts: string[] }[] = [];
  for (const block of blocks) {
    const text = block.text.trim();
    if (!text) continue;
    const last = out.at(-1);
    if (last && last.page === block.page && last.heading === block.heading) last.texts.push(text);
    else out.push({ page: block.page, heading: block.heading, texts: [text] });
  }
  return out;
}

// A paragraph's sentences (cut between words when longer than max), appended to `units`; the
// segmenter is read lazily, so a paragraph of megabytes is worked through in pieces.
function* unitsOf(paragraph: string, segmenter: Intl.Segmenter, max: number, units: Unit[]): Generator<void, void, undefined> {
  let first = true;
  let count = 0;
  for (const { segment } of segmenter.segment(paragraph)) {
    if (segment.trim() === '') continue;
    for (const piece of segment.length > max ? splitWords(segment, max) : [segment]) {
      units.push({ text: piece, opensParagraph: first });
      first = false;
    }
    if (++count % 256 === 0) yield;
  }
}

// Pieces of at most `max` characters, cut at white space where there is some.
function splitWords(text: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf(' ', max);
    if (cut < max / 2) cut = max;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut).trimStart();
  }
  if (rest.trim()) pieces.push(rest);
  return pieces;
}

function* pack(units: Unit[], { target, max, overlap }: ChunkOptions): Generator<void, string[], undefined> {
  const passages: string[] = [];
  let current: Unit[] = [];
  // How many units at the start of `current` repeat the previous passage.
  let carried = 0;
  const length = (list: Unit[]) => list.reduce((n, u) => n + u.text.length + (u.opensParagraph ? 2 : 0), 0);

  const close = () => {
    if (current.length > carried) passages.push(render(current));
    // The next passage starts with the last sentences of this one, up to `overlap` characters.
    const tail: Unit[] = [];
    let size = 0;
    for (let i = current.length - 1; i > 0; i--) {
      size += current[i].text.length;
      if (size > overlap) break;
      tail.unshift(current[i]);
    }
    current = tail;
    carried = tail.length;
  };

  for (let i = 0; i < units.length; i++) {
    if (i % 1024 === 1023) yield;
    const unit = units[i];
    const size = length(current);
    if (current.length > carried) {
      // A paragraph begins: close here if this passage is well under way and the paragraph would
      // not fit whole (a border between paragraphs beats one between sentences).
      if (unit.opensParagraph && size >= target * 0.6 && size + paragraphLength(units, i) > target) close();
      else if (size + unit.text.length > target) close();
    }
    // The carried overlap gives way when the next unit would not fit beside it.
    while (current.length > 0 && length(current) + unit.text.length > max) {
      current.shift();
      carried = Math.max(0, carried - 1);
    }
    current.push(unit);
  }
  if (current.length > carried) passages.push(render(current));
  return passages;
}

// The length of the paragraph that starts at units[i].
function paragraphLength(units: Unit[], i: number): number {
  let n = units[i].text.length;
  for (let j = i + 1; j < units.length && !units[j].opensParagraph; j++) n += units[j].text.length;
  return n;
}

function render(units: Unit[]): string {
  let out = '';
  for (const [i, unit] of units.entries()) {
    if (i > 0 && unit.opensParagraph) out = out.trimEnd() + '\n\n';
    else if (i > 0 && !/\s$/.test(out)) out += ' ';
    out += unit.text;
  }
  return out.trim();
}
