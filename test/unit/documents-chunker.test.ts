import { describe, expect, it } from 'vitest';
import { chunkBlocks, chunkBlocksCooperatively, type ChunkOptions } from '../../src/documents/extraction/chunker.js';
import { runCooperatively } from '../../src/documents/extraction/cooperative.js';
import type { TextBlock } from '../../src/documents/extraction/blocks.js';

const sentence = (i: number) => `Sentence number ${i} says something about topic ${i}.`;
const paragraph = (from: number, count: number) => Array.from({ length: count }, (_, i) => sentence(from + i)).join(' ');
const small: ChunkOptions = { target: 200, max: 300, overlap: 60 };

describe(chunkBlocks.name, () => {
  it('keeps a short document whole, in one passage', () => {
    const passages = chunkBlocks([{ text: 'One paragraph.' }, { text: 'Another one.' }], small);
    expect(passages).toEqual([{ ordinal: 0, content: 'One paragraph.\n\nAnother one.' }]);
  });

  it('ends passages at sentence borders and starts each with the end of the one before', () => {
    const passages = chunkBlocks([{ text: paragraph(1, 30) }], small);
    expect(passages.length).toBeGreaterThan(4);
    for (const [i, p] of passages.entries()) {
      expect(p.ordinal).toBe(i);
      expect(p.content.length).toBeLessThanOrEqual(small.max);
      // Whole sentences only: each passage starts with "Sentence" and ends with a full stop.
      expect(p.content).toMatch(/^Sentence number \d+ .*\.$/s);
    }
    for (let i = 1; i < passages.length; i++) {
      const previousLast = passages[i - 1].content.match(/Sentence number \d+[^.]*\.$/)![0];
      expect(passages[i].content.startsWith(previousLast)).toBe(true);
    }
    // Every sentence is in some passage.
    const all = passages.map((p) => p.content).join(' ');
    for (let i = 1; i <= 30; i++) expect(all).toContain(sentence(i));
  });

  it('prefers a paragraph border to a sentence border when one is near', () => {
    // Three paragraphs of ~150 characters: the first passage closes after the first paragraph
    // rather than taking half of the second.
    const blocks: TextBlock[] = [{ text: paragraph(1, 3) }, { text: paragraph(10, 3) }, { text: paragraph(20, 3) }];
    const passages = chunkBlocks(blocks, small);
    expect(passages[0].content).toBe(paragraph(1, 3));
    expect(passages[1].content).toContain(paragraph(10, 3));
    // No passage holds a piece of a paragraph without the rest of it (overlap aside: it is the
    // last sentence of the passage before, followed by a paragraph break).
    for (const p of passages) {
      const body = p.content.includes('\n\n') ? p.content.slice(p.content.indexOf('\n\n') + 2) : p.content;
      for (const start of [1, 10, 20]) {
        const inside = [start, start + 1, start + 2].filter((n) => body.includes(sentence(n))).length;
        expect([0, 3]).toContain(inside);
      }
    }
  });

  it('cuts a sentence longer than max between words', () => {
    const words = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    const passages = chunkBlocks([{ text: words }], small);
    expect(passages.length).toBeGreaterThan(2);
    for (const p of passages) {
      expect(p.content.length).toBeLessThanOrEqual(small.max);
      expect(p.content).toMatch(/^word\d+( word\d+)*$/);
    }
    expect(passages.map((p) => p.content).join(' ')).toContain('word0 word1');
    expect(passages.at(-1)!.content).toContain('word119');
  });

  it('never lets a passage span two pages or two headings, and says which one it is from', () => {
    const blocks: TextBlock[] = [
      { text: paragraph(1, 2), page: 1 },
      { text: paragraph(3, 2), page: 2 },
      { text: 'Intro', heading: 'Intro' },
      { text: paragraph(5, 1), heading: 'Intro' },
      { text: paragraph(6, 1), heading: 'Details' },
    ];
    const passages = chunkBlocks(blocks, { target: 2000, max: 3000, overlap: 200 });
    expect(passages.map((p) => [p.page, p.heading])).toEqual([
      [1, undefined],
      [2, undefined],
      [undefined, 'Intro'],
      [undefined, 'Details'],
    ]);
    expect(passages[1].content).not.toContain(sentence(2));
    expect(passages[2].content).toBe(`Intro\n\n${sentence(5)}`);
  });

  it('writes no empty passage', () => {
    expect(chunkBlocks([{ text: '   ' }, { text: '' }], small)).toEqual([]);
  });

  it('splits sentences of other scripts and languages too', () => {
    const text = Array.from({ length: 20 }, (_, i) => `Это предложение номер ${i}. `).join('');
    const passages = chunkBlocks([{ text }], { target: 150, max: 250, overlap: 40 });
    expect(passages.length).toBeGreaterThan(2);
    for (const p of passages) expect(p.content).toMatch(/^Это .*\.$/s);
  });
});

describe('cooperative chunking', () => {
  it('gives the same passages as chunking at once', async () => {
    const blocks: TextBlock[] = Array.from({ length: 200 }, (_, i) => ({ text: paragraph(i * 10, 8), heading: `H${Math.floor(i / 20)}` }));
    expect(await chunkBlocksCooperatively(blocks, small)).toEqual(chunkBlocks(blocks, small));
  });

  it('lets other work run while a long job runs', async () => {
    let turns = 0;
    const timer = setInterval(() => turns++, 1);
    function* busy() {
      const until = performance.now() + 60;
      while (performance.now() < until) yield;
      return 'done';
    }
    expect(await runCooperatively(busy(), 5)).toBe('done');
    clearInterval(timer);
    // A job holding the thread for 60 ms would have let the timer run once at most.
    expect(turns).toBeGreaterThanOrEqual(5);
  });

  it('stops at an abort', async () => {
    const abort = new AbortController();
    function* forever() {
      for (;;) yield;
    }
    setTimeout(() => abort.abort(new Error('stop')), 20);
    await expect(runCooperatively(forever(), 2, abort.signal)).rejects.toThrow('stop');
  });
});
