import { describe, expect, it } from 'vitest';
import { EventStreamParser, readEventStream, type EventStreamFrame } from '../../client/src/event-stream.js';

// The typed client's text/event-stream parser: the HTML standard's rules, fed in any chunking.
describe(EventStreamParser.name, () => {
  const parse = (...chunks: string[]) => {
    const sut = new EventStreamParser();
    const frames = chunks.flatMap((chunk) => sut.push(chunk));
    return { frames: [...frames, ...sut.end()], sut };
  };

  // Every way of cutting `text` in two, and one character at a time: always the same frames.
  const everySplit = (text: string): EventStreamFrame[][] => {
    const results = [parse(...text.split('')).frames];
    for (let i = 0; i <= text.length; i++) results.push(parse(text.slice(0, i), text.slice(i)).frames);
    return results;
  };

  it('reads id, event and data, and keeps the latest id for Last-Event-ID', () => {
    const { frames, sut } = parse('id: m:1\nevent: assistant_delta\ndata: {"delta":"Hi"}\n\nid: m:2\nevent: usage_info\ndata: {}\n\n');
    expect(frames).toEqual([
      { id: 'm:1', event: 'assistant_delta', data: '{"delta":"Hi"}' },
      { id: 'm:2', event: 'usage_info', data: '{}' },
    ]);
    expect(sut.lastEventId).toBe('m:2');
  });

  it('joins multi-line data with newlines and drops exactly one space after the colon', () => {
    const { frames } = parse('data: first\ndata:second\ndata:  third\ndata\n\n');
    expect(frames).toEqual([{ event: 'message', data: 'first\nsecond\n third\n' }]);
  });

  it('takes CRLF, LF and CR line ends, also a CRLF split across two chunks', () => {
    const expected = [
      { id: '1', event: 'a', data: 'x' },
      { id: '2', event: 'b', data: 'y' },
    ];
    for (const nl of ['\n', '\r\n', '\r']) {
      const text = `id: 1${nl}event: a${nl}data: x${nl}${nl}id: 2${nl}event: b${nl}data: y${nl}${nl}`;
      for (const frames of everySplit(text)) expect(frames, JSON.stringify(nl)).toEqual(expected);
    }
    // A CR closing one chunk and the LF opening the next are one line end, not two.
    expect(parse('data: a\r', '\ndata: b\r\n\r\n').frames).toEqual([{ event: 'message', data: 'a\nb' }]);
  });

  it('counts comments such as ": ping" and never makes frames of them', () => {
    const seen: string[] = [];
    const sut = new EventStreamParser((text) => seen.push(text));
    const frames = [...sut.push(': ping\n\n:\n\nevent: a\n: inside a frame\ndata: 1\n\n'), ...sut.end()];
    expect(frames).toEqual([{ event: 'a', data: '1' }]);
    expect(sut.comments).toBe(3);
    expect(seen).toEqual(['ping', '', 'inside a frame']);
  });

  it('delivers a last frame that has no blank line after it, with or without its last line end', () => {
    for (const text of ['id: 1\nevent: assistant_error\ndata: {"code":"X"}\n', 'id: 1\nevent: assistant_error\ndata: {"code":"X"}']) {
      for (const frames of everySplit(text)) expect(frames).toEqual([{ id: '1', event: 'assistant_error', data: '{"code":"X"}' }]);
    }
  });

  it('skips blocks without data, unknown fields and ids holding NUL; reads retry', () => {
    const { frames, sut } = parse('id: only-an-id\n\nfoo: bar\nevent: a\nid: bad\0id\nretry: 1500\nretry: soon\ndata: x\n\nevent: b\n\n');
    expect(frames).toEqual([{ event: 'a', data: 'x', retry: 1500 }]);
    expect(sut.lastEventId).toBe('only-an-id');
  });

  it('ignores a byte order mark at the start of the stream only', () => {
    expect(parse('\uFEFFdata: a\n\n', 'data: \uFEFFb\n\n').frames).toEqual([
      { event: 'message', data: 'a' },
      { event: 'message', data: '\uFEFFb' },
    ]);
  });

  it('reads a fetch body whose chunks cut lines and UTF-8 characters in half', async () => {
    const bytes = new TextEncoder().encode('id: m:1\r\nevent: assistant_delta\r\ndata: {"delta":"héllo wörld ✓"}\r\n\r\n: ping\r\n\r\nid: m:2\r\nevent: usage_info\r\ndata: {}');
    const chunks = Array.from({ length: Math.ceil(bytes.length / 3) }, (_, i) => bytes.slice(i * 3, i * 3 + 3));
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const frames: EventStreamFrame[] = [];
    for await (const frame of readEventStream(body)) frames.push(frame);
    expect(frames).toEqual([
      { id: 'm:1', event: 'assistant_delta', data: '{"delta":"héllo wörld ✓"}' },
      { id: 'm:2', event: 'usage_info', data: '{}' },
    ]);
  });

  it('cancels the body when the reader stops early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('data: tick\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const frame of readEventStream(body)) {
      expect(frame.data).toBe('tick');
      break;
    }
    expect(cancelled).toBe(true);
  });

  it('parses 20 000 frames arriving in one chunk', () => {
    const text = Array.from({ length: 20_000 }, (_, i) => `id: m:${i + 1}\nevent: assistant_delta\ndata: {"delta":"w${i} "}\n\n`).join('');
    const { frames } = parse(text);
    expect(frames).toHaveLength(20_000);
    expect(frames.at(-1)).toEqual({ id: 'm:20000', event: 'assistant_delta', data: '{"delta":"w19999 "}' });
  });
});
