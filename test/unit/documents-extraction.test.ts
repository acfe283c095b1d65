import { describe, expect, it } from 'vitest';
import { detectDocumentType } from '../../src/documents/extraction/detect-type.js';
import { DocumentUnreadable } from '../../src/documents/extraction/document-unreadable.js';
import { extractBlocks } from '../../src/documents/extraction/extract-text.js';
import { htmlBlocks } from '../../src/documents/extraction/html.js';
import { markdownBlocks } from '../../src/documents/extraction/markdown.js';
import { searchConfigFor } from '../../src/documents/extraction/search-config.js';
import { reciprocalRankFusion } from '../../src/documents/retrieval/rank-fusion.js';
import type { ScoredPassage } from '../../src/documents/retrieval/search-scope.js';
import { withSources } from '../../src/documents/retrieval/sources-prompt.js';
import { makePdf } from '../support/pdf.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const kindOf = (data: Uint8Array, name = 'upload.bin') => {
  const d = detectDocumentType(data, name);
  return d.supported ? d.kind : `unsupported: ${d.reason}`;
};

describe(detectDocumentType.name, () => {
  it('tells PDF, HTML, Markdown and plain text apart by their bytes, whatever the name', () => {
    expect(kindOf(makePdf([['Hello']]), 'notes.txt')).toBe('pdf');
    expect(kindOf(bytes('<!DOCTYPE html><html><body><p>Hi</p></body></html>'), 'page.md')).toBe('html');
    expect(kindOf(bytes('  \n<html lang="en"><p>Hi</p></html>'))).toBe('html');
    expect(kindOf(bytes('<p>A fragment</p>'))).toBe('html');
    expect(kindOf(bytes('<?xml version="1.0"?>\n<html xmlns="urn:example:xhtml"><body/></html>'))).toBe('html');
    expect(kindOf(bytes('# Title\n\nSome *text* with a [link](http://example.com).\n\n- one\n- two\n'))).toBe('markdown');
    expect(kindOf(bytes('Plain words, nothing more.\nA second line.'), 'readme')).toBe('text');
    // The name settles Markdown against plain text (both are text), and a fragment against HTML.
    expect(kindOf(bytes('Just words.'), 'notes.md')).toBe('markdown');
    expect(kindOf(bytes('<!-- draft -->\n# Title\n'), 'notes.md')).toBe('markdown');
    // "<abbr>" is not "<a ".
    expect(kindOf(bytes('<abbr>x</abbr> is markup-ish text'))).toBe('text');
  });

  it('reads text in UTF-8 with or without a BOM, and UTF-16 with one', () => {
    expect(kindOf(bytes('\uFEFFHéllo wörld'))).toBe('text');
    expect(kindOf(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Hello in UTF-16', 'utf16le')]))).toBe('text');
  });

  it('refuses binary data, invalid UTF-8 and empty files', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
    expect(kindOf(png, 'image.txt')).toMatch(/^unsupported/);
    expect(kindOf(Buffer.from([0xc3, 0x28, 0x61]))).toMatch(/^unsupported: The file is not a PDF/);
    expect(kindOf(bytes('text with a NUL\0 inside'))).toBe('unsupported: The file holds binary data');
    expect(kindOf(bytes('\x01\x02\x03\x04 control soup \x05\x06'))).toBe('unsupported: The file holds binary data');
    expect(kindOf(Buffer.alloc(0))).toBe('unsupported: The file is empty');
    expect(kindOf(bytes(' \n\t '))).toBe('unsupported: The file holds no text');
  });
});

describe('text extraction', () => {
  it('keeps Markdown as written, in blocks under their headings, fenced code whole', () => {
    const blocks = markdownBlocks('Intro line.\n\n# First *part*\n\nPara one\ncontinued.\n\n```js\nconst a = 1;\n\nconst b = 2;\n```\n\nSecond title\n------------\n\nLast para.');
    expect(blocks).toEqual([
      { text: 'Intro line.' },
      { text: '# First *part*', heading: 'First part' },
      { text: 'Para one\ncontinued.', heading: 'First part' },
      { text: '```js\nconst a = 1;\n\nconst b = 2;\n```', heading: 'First part' },
      { text: 'Second title\n------------', heading: 'Second title' },
      { text: 'Last para.', heading: 'Second title' },
    ]);
  });

  it('reads the text a reader of an HTML page sees: no scripts or styles, entities decoded, headings kept', () => {
    const blocks = htmlBlocks(`<!doctype html><html><head><title>T</title><style>p{color:red}</style><script>alert("x")</script></head>
      <body><h1>Caf&eacute; &amp; more</h1><p>First   paragraph<br>with a break.</p><ul><li>one</li><li>two</li></ul>
      <h2>Next</h2><div>Text &#8212; done</div><noscript>enable js</noscript></body></html>`);
    expect(blocks).toEqual([
      { text: 'Café & more', heading: 'Café & more' },
      { text: 'First paragraph with a break.', heading: 'Café & more' },
      { text: '- one', heading: 'Café & more' },
      { text: '- two', heading: 'Café & more' },
      { text: 'Next', heading: 'Next' },
      { text: 'Text — done', heading: 'Next' },
    ]);
  });

  it('reads a PDF page by page with PDF.js, lines of one paragraph joined', async () => {
    const pdf = makePdf([
      ['The first page talks about', 'harbour cranes and their opera-', 'tors.'],
      ['The second page is about tides.'],
    ]);
    const pages: number[] = [];
    const blocks = await extractBlocks('pdf', pdf, { onPage: (done) => void pages.push(done) });
    expect(blocks).toEqual([
      { text: 'The first page talks about harbour cranes and their operators.', page: 1 },
      { text: 'The second page is about tides.', page: 2 },
    ]);
    expect(pages).toEqual([1, 2]);
  });

  it('fails a damaged PDF and one without text with a reason meant for the user', async () => {
    await expect(extractBlocks('pdf', bytes('%PDF-1.4\nnot really a pdf'))).rejects.toBeInstanceOf(DocumentUnreadable);
    await expect(extractBlocks('pdf', makePdf([[]]))).rejects.toThrow(/no text to read/);
  });

  it('picks the text search configuration from the words of the text', () => {
    expect(searchConfigFor('The keeper of the lighthouse was known for the way he tended to the lamp in the winter.')).toBe('english');
    expect(searchConfigFor('Der Leuchtturmwärter ist nicht nur für die Lampe zuständig, und er wird von allen geschätzt, auch im Winter mit dem Sturm.')).toBe('german');
    expect(searchConfigFor('Le gardien du phare est connu pour la façon dont il entretient la lampe pendant les nuits de tempête dans le nord.')).toBe('french');
    expect(searchConfigFor('sku name price qty 1001 widget 9.99 3 WX-1 1002 gadget 19.99 1 GX-2 1003 doohickey 4.50 12 DX-3 1004 sprocket 2.10 40 SP-4 subtotal total')).toBe('simple');
  });
});

describe('retrieval helpers', () => {
  const passage = (id: string, score = 1): ScoredPassage => ({ id, documentId: 'd', filename: 'f', content: id, page: null, heading: null, ordinal: 0, score });

  it('fuses rankings by reciprocal rank: agreement wins over one high place', () => {
    const fused = reciprocalRankFusion([[passage('a'), passage('b'), passage('c')], [passage('b'), passage('d'), passage('e')]], 3);
    expect(fused.map((p) => p.id)).toEqual(['b', 'a', 'd']);
    expect(fused[0].score).toBeCloseTo(1 / 62 + 1 / 61, 10);
  });

  it('numbers the sources in the system prompt as the client shows them, and adds nothing without any', () => {
    expect(withSources('Be brief.', [])).toBe('Be brief.');
    expect(withSources(undefined, [])).toBeUndefined();
    const prompt = withSources('Be brief.', [
      { id: '1', document_id: 'd1', filename: 'a.md', content: 'Alpha text.', score: 1, metadata: { heading: 'Intro' } },
      { id: '2', document_id: 'd2', filename: 'b.pdf', content: 'Beta text.', score: 0.5, metadata: { page: 3 } },
    ])!;
    expect(prompt.startsWith('Be brief.\n\n')).toBe(true);
    expect(prompt).toContain('[1] a.md, section "Intro"\nAlpha text.');
    expect(prompt).toContain('[2] b.pdf, page 3\nBeta text.');
    expect(prompt).toMatch(/cite .* as \[1\], \[2\]/);
  });
});
