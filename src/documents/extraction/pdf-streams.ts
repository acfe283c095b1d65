import { pipeline, Readable } from 'node:stream';
import { createInflate } from 'node:zlib';
import { DocumentUnreadable } from './document-unreadable.js';

// PDF.js decodes each stream it reads (page contents, fonts, object streams) whole into memory,
// and keeps every stage of a chain of filters: a small file can hold streams that decompress
// 1000 times over (and again, when filters are chained), and would take the process's memory
// before a character of text came out. So before PDF.js sees a PDF, the data its streams
// decompress to is measured here, in pieces and off the main thread (zlib), nothing of it kept:
// past `maxTotal` over all streams, or a quarter of it for one, the document is not read.
//
// Streams are found by their `stream` keyword after a dictionary, wherever they are (objects
// are located by offsets, so any of them may be read); a stream's filters are taken from its
// dictionary (FlateDecode, LZWDecode, RunLengthDecode, ASCIIHexDecode, ASCII85Decode, chained),
// and data that starts like zlib is inflated whatever the dictionary says (a filter named
// through an indirect object, say). Image codecs (DCT, JPX, JBIG2, CCITT) end a chain: text
// extraction does not decode images. Not covered: streams of an encrypted PDF (decrypted by
// PDF.js only), whose compressed data cannot be read here.
// What the streams decompress to, all stages together; throws past the limits.
export async function measurePdfStreams(bytes: Uint8Array, maxTotal: number, signal?: AbortSignal): Promise<number> {
  const pdf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const maxStream = Math.floor(maxTotal / 4);
  let total = 0;
  for (const stream of streamsOf(pdf)) {
    if (signal?.aborted) throw signal.reason;
    const limit = Math.min(maxStream, maxTotal - total);
    const size = await decodedSize(stream, limit);
    if (size > limit) {
      const mb = Math.round((size > maxStream ? maxStream : maxTotal) / 1_048_576);
      throw new DocumentUnreadable(`The PDF's content expands to more than ${mb} MB when decompressed (MAX_PDF_DECODED_BYTES); it is not read`);
    }
    total += size;
  }
  return total;
}

interface PdfStream {
  data: Buffer;
  // From its dictionary; null when they cannot be read there.
  filters: string[] | null;
}

// Every stream's data (up to its /Length or its `endstream`, whichever is further: decoders
// stop at their own end) and its filters.
export function* streamsOf(pdf: Buffer): Generator<PdfStream> {
  for (let from = 0; ; ) {
    const at = pdf.indexOf('stream', from, 'latin1');
    if (at < 0) return;
    from = at + 6;
    // The keyword, then an end of line.
    let start = at + 6;
    if (pdf[start] === CR) start++;
    if (pdf[start] === LF) start++;
    if (start === at + 6) continue;
    // After a dictionary's ">>": neither "endstream" nor a word in some text.
    let end = at - 1;
    while (end > 0 && WHITE.has(pdf[end])) end--;
    if (end < 1 || pdf[end] !== GT || pdf[end - 1] !== GT) continue;
    const dict = dictionaryEndingAt(pdf, end);
    const entries = dict === null ? null : topLevel(dict);
    const declared = entries ? directLength(entries) : undefined;
    const marker = pdf.indexOf('endstream', start, 'latin1');
    const stop = Math.max(declared === undefined ? 0 : Math.min(pdf.length, start + declared), marker < 0 ? pdf.length : marker);
    yield { data: pdf.subarray(start, stop), filters: entries ? filtersOf(entries) : null };
  }
}

// The bytes all stages of a stream's decoding produce together (PDF.js holds each), counted up
// to just past `limit`.
async function decodedSize(stream: PdfStream, limit: number): Promise<number> {
  const { data, filters } = stream;
  const declared = filters ? await measure(data, filters, limit) : 0;
  // Data that starts like zlib, whatever the dictionary says (when it does not say so already).
  const inflated = filters?.[0] === 'FlateDecode' || filters?.[0] === 'Fl';
  const sniffed = !inflated && looksLikeZlib(data) ? await measure(data, ['FlateDecode'], limit) : 0;
  return Math.max(declared, sniffed);
}

class Over extends Error {}

async function measure(data: Buffer, filters: string[], limit: number): Promise<number> {
  let count = 0;
  const counted = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      count += chunk.length;
      if (count > limit) throw new Over();
      yield chunk;
    }
  };
  let source: AsyncIterable<Buffer> = once(data);
  let depth = 0;
  for (const filter of filters) {
    const stage = STAGES[filter];
    if (!stage) break;
    source = counted(stage(source));
    depth++;
  }
  try {
    // What a chain ends with may be zlib again (filters named elsewhere): inflated while it
    // looks so, a few levels deep.
    for (;;) {
      const [first, rest] = await peek(source);
      if (first === undefined) break;
      if (depth >= MAX_DEPTH || !looksLikeZlib(first)) {
        for await (const _chunk of rest) void _chunk;
        break;
      }
      source = counted(inflate(rest));
      depth++;
    }
  } catch (error) {
    if (!(error instanceof Over)) throw error;
  }
  return count;
}

const MAX_DEPTH = 6;

// The first chunk of a source, and the source again from that chunk on.
async function peek(source: AsyncIterable<Buffer>): Promise<[Buffer | undefined, AsyncIterable<Buffer>]> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return [undefined, once(Buffer.alloc(0))];
  const rest = (async function* () {
    yield first.value;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  })();
  return [first.value, rest];
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

type Stage = (source: AsyncIterable<Buffer>) => AsyncIterable<Buffer>;

// PDF's decoders, by the names (and abbreviations) PDF.js knows; a name not here ends a chain.
const STAGES: Record<string, Stage> = {
  FlateDecode: inflate,
  Fl: inflate,
  LZWDecode: (s) => decodeWith(s, new LzwDecoder()),
  LZW: (s) => decodeWith(s, new LzwDecoder()),
  RunLengthDecode: (s) => decodeWith(s, new RunLengthDecoder()),
  RL: (s) => decodeWith(s, new RunLengthDecoder()),
  ASCIIHexDecode: (s) => decodeWith(s, new AsciiHexDecoder()),
  AHx: (s) => decodeWith(s, new AsciiHexDecoder()),
  ASCII85Decode: (s) => decodeWith(s, new Ascii85Decoder()),
  A85: (s) => decodeWith(s, new Ascii85Decoder()),
};

// zlib, in the thread pool. Data that is not zlib, or is damaged, yields what came out before.
async function* inflate(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createInflate();
  pipeline(Readable.from(source), z, () => undefined);
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } catch {
    // not (or no longer) zlib: PDF.js gets no more of it either
  } finally {
    z.destroy();
  }
}

interface Decoder {
  // The output of one more piece of input (empty once the data has ended).
  push(chunk: Buffer): Buffer;
  ended: boolean;
}

async function* decodeWith(source: AsyncIterable<Buffer>, decoder: Decoder): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    // The input is cut into small pieces: one kilobyte of LZW can spell a few megabytes.
    for (let at = 0; at < chunk.length && !decoder.ended; at += 1024) {
      const out = decoder.push(chunk.subarray(at, at + 1024));
      if (out.length > 0) yield out;
    }
    if (decoder.ended) return;
  }
}

class AsciiHexDecoder implements Decoder {
  ended = false;
  private high = -1;

  push(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(Math.ceil(chunk.length / 2) + 1);
    let n = 0;
    for (const byte of chunk) {
      if (byte === GT) {
        if (this.high >= 0) out[n++] = this.high << 4;
        this.ended = true;
        break;
      }
      const digit = hexDigit(byte);
      if (digit < 0) continue;
      if (this.high < 0) this.high = digit;
      else {
        out[n++] = (this.high << 4) | digit;
        this.high = -1;
      }
    }
    return out.subarray(0, n);
  }
}

class Ascii85Decoder implements Decoder {
  ended = false;
  private group: number[] = [];

  push(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length * 4 + 4);
    let n = 0;
    for (const byte of chunk) {
      if (byte === TILDE) {
        n = this.flush(out, n);
        this.ended = true;
        break;
      }
      if (byte === Z && this.group.length === 0) {
        out.fill(0, n, n + 4);
        n += 4;
        continue;
      }
      if (byte < 0x21 || byte > 0x75) continue;
      this.group.push(byte - 0x21);
      if (this.group.length === 5) n = this.flush(out, n);
    }
    return out.subarray(0, n);
  }

  private flush(out: Buffer, n: number): number {
    const length = this.group.length;
    if (length < 2) {
      this.group = [];
      return n;
    }
    while (this.group.length < 5) this.group.push(84);
    let value = 0;
    for (const digit of this.group) value = value * 85 + digit;
    for (let i = 0; i < length - 1; i++) out[n++] = (value >>> (24 - 8 * i)) & 0xff;
    this.group = [];
    return n;
  }
}

class RunLengthDecoder implements Decoder {
  ended = false;
  // A run header whose bytes have not all arrived: literal bytes left to copy, or a repeat.
  private literal = 0;
  private repeat = 0;

  push(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    for (let i = 0; i < chunk.length && !this.ended; ) {
      if (this.literal > 0) {
        const take = Math.min(this.literal, chunk.length - i);
        parts.push(chunk.subarray(i, i + take));
        this.literal -= take;
        i += take;
      } else if (this.repeat > 0) {
        parts.push(Buffer.alloc(this.repeat, chunk[i]));
        this.repeat = 0;
        i++;
      } else {
        const header = chunk[i++];
        if (header === 128) this.ended = true;
        else if (header < 128) this.literal = header + 1;
        else this.repeat = 257 - header;
      }
    }
    return Buffer.concat(parts);
  }
}

// PDF's LZW (early change on, as PDF.js assumes by default), codes of 9 to 12 bits.
class LzwDecoder implements Decoder {
  ended = false;
  private bits = 0;
  private bitCount = 0;
  private width = 9;
  private next = 258;
  private previous = -1;
  private readonly prefix = new Int32Array(4096);
  private readonly suffix = new Uint8Array(4096);
  private readonly length = new Uint16Array(4096);
  private readonly scratch = new Uint8Array(4096);

  constructor() {
    for (let i = 0; i < 256; i++) {
      this.suffix[i] = i;
      this.length[i] = 1;
      this.prefix[i] = -1;
    }
  }

  push(chunk: Buffer): Buffer {
    const parts: Uint8Array[] = [];
    for (const byte of chunk) {
      this.bits = ((this.bits << 8) | byte) & 0xffffff;
      this.bitCount += 8;
      while (this.bitCount >= this.width) {
        const code = (this.bits >>> (this.bitCount - this.width)) & ((1 << this.width) - 1);
        this.bitCount -= this.width;
        if (code === 256) {
          this.width = 9;
          this.next = 258;
          this.previous = -1;
          continue;
        }
        if (code === 257) {
          this.ended = true;
          return Buffer.concat(parts);
        }
        // A code not yet defined (KwKwK) spells the previous string and its own first byte,
        // as PDF.js reads it.
        const undefinedYet = code >= this.next;
        if (undefinedYet && this.previous < 0) continue;
        const out = this.spell(undefinedYet ? this.previous : code, undefinedYet);
        parts.push(out);
        if (this.previous >= 0 && this.next < 4096) {
          this.prefix[this.next] = this.previous;
          this.suffix[this.next] = out[0];
          this.length[this.next] = this.length[this.previous] + 1;
          this.next++;
          if (this.next + 1 >= 1 << this.width && this.width < 12) this.width++;
        }
        this.previous = code;
      }
    }
    return Buffer.concat(parts);
  }

  // The string of a code (with its first byte repeated at the end for a code being defined).
  private spell(code: number, repeatFirst: boolean): Uint8Array {
    const size = this.length[code];
    for (let i = size - 1, c = code; i >= 0; i--, c = this.prefix[c]) this.scratch[i] = this.suffix[c];
    const out = new Uint8Array(size + (repeatFirst ? 1 : 0));
    out.set(this.scratch.subarray(0, size));
    if (repeatFirst) out[size] = this.scratch[0];
    return out;
  }
}

// The dictionary whose closing ">>" ends at `end`, as text; null when it cannot be found close by.
function dictionaryEndingAt(pdf: Buffer, end: number): string | null {
  let depth = 0;
  const floor = Math.max(0, end - 65_536);
  for (let i = end; i > floor; ) {
    if (pdf[i] === GT && pdf[i - 1] === GT) {
      depth++;
      i -= 2;
    } else if (pdf[i] === LT && pdf[i - 1] === LT) {
      depth--;
      i -= 2;
      if (depth === 0) return pdf.toString('latin1', i + 1, end + 1);
    } else {
      i--;
    }
  }
  return null;
}

// The entries of a dictionary's top level (nested dictionaries, arrays and strings are values,
// never keys), the last of a repeated key winning as in PDF.js.
function topLevel(dict: string): Map<string, string> {
  const entries = new Map<string, string>();
  const body = dict.slice(2, -2);
  let key: string | undefined;
  let i = 0;
  const value = (from: number): number => {
    const c = body[from];
    if (c === '<' && body[from + 1] === '<') return skipNested(body, from, '<<', '>>');
    if (c === '[') return skipNested(body, from, '[', ']');
    if (c === '(') return skipString(body, from);
    if (c === '<') return body.indexOf('>', from) + 1 || body.length;
    // A name, a number, a reference ("12 0 R") or a keyword.
    const ref = /^\d+\s+\d+\s+R/.exec(body.slice(from, from + 32));
    if (ref) return from + ref[0].length;
    let j = from + 1;
    while (j < body.length && !/[\s/[\]<>()%]/.test(body[j])) j++;
    return j;
  };
  while (i < body.length) {
    const c = body[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '%') {
      const eol = body.slice(i).search(/[\r\n]/);
      i = eol < 0 ? body.length : i + eol;
      continue;
    }
    const stop = value(i);
    const token = body.slice(i, stop);
    if (key === undefined) {
      if (!token.startsWith('/')) return entries;
      key = decodeName(token.slice(1));
    } else {
      entries.set(key, token);
      key = undefined;
    }
    i = Math.max(stop, i + 1);
  }
  return entries;
}

function filtersOf(entries: Map<string, string>): string[] | null {
  const value = entries.get('Filter');
  if (value === undefined) return [];
  if (/R$/.test(value)) return null;
  return [...value.matchAll(/\/([^\s/[\]<>()%]+)/g)].map((m) => decodeName(m[1]));
}

function directLength(entries: Map<string, string>): number | undefined {
  const value = entries.get('Length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

// Names may spell characters as #xx.
function decodeName(name: string): string {
  return name.replace(/#([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function skipNested(text: string, from: number, open: string, close: string): number {
  let depth = 0;
  for (let i = from; i < text.length; ) {
    if (text[i] === '(') {
      i = skipString(text, i);
    } else if (text.startsWith(open, i)) {
      depth++;
      i += open.length;
    } else if (text.startsWith(close, i)) {
      depth--;
      i += close.length;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return text.length;
}

// A literal string: balanced parentheses, backslash escapes.
function skipString(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return text.length;
}

function looksLikeZlib(data: Uint8Array): boolean {
  return data.length >= 2 && (data[0] & 0x0f) === 8 && data[0] >> 4 <= 7 && ((data[0] << 8) | data[1]) % 31 === 0;
}

function hexDigit(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

const CR = 0x0d;
const LF = 0x0a;
const GT = 0x3e;
const LT = 0x3c;
const TILDE = 0x7e;
const Z = 0x7a;
const WHITE = new Set([0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]);
