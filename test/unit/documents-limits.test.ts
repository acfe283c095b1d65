import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EXTRACTION_LIMITS } from '../../src/config/app-config.js';
import { chunkBlocks, DEFAULT_CHUNKING } from '../../src/documents/extraction/chunker.js';
import { DocumentUnreadable } from '../../src/documents/extraction/document-unreadable.js';
import { extractBlocks } from '../../src/documents/extraction/extract-text.js';
import { extractionLimits } from '../../src/documents/extraction/limits.js';
import { measurePdfStreams } from '../../src/documents/extraction/pdf-streams.js';
import { makePdf, pdfWithContentStream } from '../support/pdf.js';

const MiB = 1024 * 1024;
const limitsFor = (bytes: Uint8Array, overrides: Partial<typeof DEFAULT_EXTRACTION_LIMITS> = {}) => extractionLimits({ ...DEFAULT_EXTRACTION_LIMITS, ...overrides }, bytes.length);
// Page content that PDF.js reads as text (on the page: text below its bottom is dropped).
const textOps = (lines: string[]) => Buffer.from(['BT', '/F1 11 Tf', '56 760 Td', ...lines.map((l, i) => `(${l}) Tj 0 ${i % 2 ? 14 : -14} Td`), 'ET'].join('\n'), 'latin1');

describe(measurePdfStreams.name, () => {
  it('measures what a PDF decompresses to, every stage of a chain, without refusing an ordinary one', async () => {
    const content = textOps(['An ordinary page of text.']);
    expect(await measurePdfStreams(pdfWithContentStream(deflateSync(content), '/FlateDecode'), 256 * MiB)).toBe(content.length);
    // ASCIIHex, then Flate: PDF.js holds both stages.
    const hex = Buffer.from(deflateSync(content).toString('hex') + '>', 'latin1');
    expect(await measurePdfStreams(pdfWithContentStream(hex, '[/AHx /Fl]'), 256 * MiB)).toBe(deflateSync(content).length + content.length);
    // The PDF specification's LZW example: "-----A---B".
    const lzw = Buffer.from([0x80, 0x0b, 0x60, 0x50, 0x22, 0x0c, 0x0c, 0x85, 0x01]);
    expect(await measurePdfStreams(pdfWithContentStream(lzw, '/LZWDecode'), 256 * MiB)).toBe(10);
    expect(await measurePdfStreams(makePdf([['Hello'], ['World']]), 256 * MiB)).toBe(0);
  });

  it('refuses a PDF whose stream expands past its share before PDF.js reads it, however the filter is named', async () => {
    // 64 MiB of spaces in a file of about 64 KB: ~1000 times over.
    const bomb = deflateSync(Buffer.alloc(64 * MiB, 0x20), { level: 9 });
    expect(bomb.length).toBeLessThan(100_000);
    const refusal = /expands to more than 4 MB when decompressed/;
    await expect(measurePdfStreams(pdfWithContentStream(bomb, '/FlateDecode'), 16 * MiB)).rejects.toThrow(refusal);
    // Named through an indirect object, or with #-escapes, or behind a decoy key in a nested dictionary.
    await expect(measurePdfStreams(pdfWithContentStream(bomb, '5 0 R', ['/FlateDecode']), 16 * MiB)).rejects.toThrow(refusal);
    await expect(measurePdfStreams(pdfWithContentStream(bomb, '/Fl#61teDecode'), 16 * MiB)).rejects.toThrow(refusal);
    await expect(measurePdfStreams(pdfWithContentStream(bomb, '/FlateDecode /DecodeParms << /Filter /ASCIIHexDecode >>'), 16 * MiB)).rejects.toThrow(refusal);
    // Deflated twice (a few hundred bytes), the filters named elsewhere: inflated while it looks like zlib.
    const twice = deflateSync(bomb, { level: 9 });
    expect(twice.length).toBeLessThan(2_000);
    await expect(measurePdfStreams(pdfWithContentStream(twice, '5 0 R', ['[/FlateDecode /FlateDecode]']), 16 * MiB)).rejects.toThrow(refusal);
    // Behind ASCII85 (as old PDFs wrap binary data).
    await expect(measurePdfStreams(pdfWithContentStream(ascii85(bomb), '[/ASCII85Decode /FlateDecode]'), 16 * MiB)).rejects.toThrow(refusal);
  });

  it('fails the document with the reason, before PDF.js decodes anything, under the default limits', async () => {
    // A quarter of MAX_PDF_DECODED_BYTES is the most one stream may expand to: 64 MiB.
    const pdf = pdfWithContentStream(deflateSync(Buffer.alloc(80 * MiB, 0x20), { level: 9 }), '/FlateDecode');
    const error = await extractBlocks('pdf', pdf).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DocumentUnreadable);
    expect((error as Error).message).toMatch(/expands to more than 64 MB/);
  });
});

describe('extraction limits', () => {
  it('fails a PDF with more text than a file of its size can hold, while the text streams out', async () => {
    // 2 MB of text that deflates to a few kilobytes: far over 20 characters per byte.
    const lines = Array.from({ length: 20_000 }, () => 'word '.repeat(20));
    const pdf = pdfWithContentStream(deflateSync(textOps(lines), { level: 9 }), '/FlateDecode');
    expect(pdf.length * 20).toBeLessThan(2_000_000);
    await expect(extractBlocks('pdf', pdf)).rejects.toThrow(/more text than a file of its size can/);
    // Within the ratio, the absolute limit.
    const some = pdfWithContentStream(deflateSync(textOps(['one short line', 'and another one'])), '/FlateDecode');
    await expect(extractBlocks('pdf', some, { limits: limitsFor(some, { maxTextChars: 1000 }) })).resolves.toHaveLength(1);
    await expect(extractBlocks('pdf', makePdf([Array(10).fill('x'.repeat(60)), Array(10).fill('y'.repeat(60))]), { limits: { ...limitsFor(some), maxChars: 1000, charsPerByteBound: false } })).rejects.toThrow(
      /more than 1000 characters of text \(MAX_DOCUMENT_TEXT_CHARS\)/,
    );
  });

  it('fails a PDF with more pages than it reads before reading one, and text longer than the limit', async () => {
    const pdf = makePdf([['one'], ['two'], ['three'], ['four']]);
    await expect(extractBlocks('pdf', pdf, { limits: limitsFor(pdf, { maxPages: 3 }) })).rejects.toThrow(/has 4 pages, more than the 3 read/);
    await expect(extractBlocks('pdf', pdf, { limits: limitsFor(pdf, { maxPages: 4 }) })).resolves.toHaveLength(4);
    const text = Buffer.from('word '.repeat(400));
    await expect(extractBlocks('text', text, { limits: limitsFor(text, { maxTextChars: 1000 }) })).rejects.toThrow(/more than 1000 characters/);
  });

  it('stops cutting passages past the limit', () => {
    const blocks = Array.from({ length: 10 }, (_, i) => ({ text: `Paragraph ${i}. ${'Some words to fill it. '.repeat(60)}` }));
    expect(chunkBlocks(blocks, DEFAULT_CHUNKING).length).toBeGreaterThan(5);
    expect(() => chunkBlocks(blocks, { ...DEFAULT_CHUNKING, maxPassages: 5 })).toThrow(/more than 5 passages/);
  });
});

function ascii85(data: Buffer): Buffer {
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    const group = Buffer.alloc(4);
    data.copy(group, 0, i, i + 4);
    const n = Math.min(4, data.length - i);
    let value = group.readUInt32BE(0);
    if (value === 0 && n === 4) {
      out += 'z';
      continue;
    }
    const digits: string[] = [];
    for (let d = 0; d < 5; d++) {
      digits.unshift(String.fromCharCode((value % 85) + 33));
      value = Math.floor(value / 85);
    }
    out += digits.slice(0, n + 1).join('');
  }
  return Buffer.from(out + '~>', 'latin1');
}
