// A text/event-stream reader for fetch bodies, following the HTML standard's parsing rules
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
// lines end in CRLF, LF or CR (also when a CRLF is split across two chunks), `:` lines are
// comments, `data:` lines join with "\n", one space after the colon is dropped. One deliberate
// difference: a last frame that the server closed without its blank line is still delivered.

export interface EventStreamFrame {
  // This frame's own `id:` field, if it had one.
  id?: string;
  event: string;
  data: string;
  // A `retry:` field (reconnection time in ms), if the frame had one.
  retry?: number;
}

const LF = 10;
const CR = 13;

export class EventStreamParser {
  // The id of the latest frame that had one, as a resuming client sends it back in Last-Event-ID.
  lastEventId: string | undefined;
  comments = 0;

  private rest = '';
  private skipLf = false;
  private started = false;
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  private retry: number | undefined;

  constructor(private readonly onComment?: (text: string) => void) {}

  // Feeds decoded text; returns the frames completed by it.
  push(chunk: string): EventStreamFrame[] {
    const out: EventStreamFrame[] = [];
    let text = this.rest + chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    if (this.skipLf && text.length > 0) {
      this.skipLf = false;
      if (text.charCodeAt(0) === LF) start = 1;
    }
    // One pass over the text: cost linear in its length, however many lines it holds.
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      this.line(text.slice(start, i), out);
      if (c === CR) {
        if (i + 1 === text.length) this.skipLf = true; // its LF may open the next chunk
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      start = i + 1;
    }
    this.rest = text.slice(start);
    return out;
  }

  // The end of the stream: a last line without its line break, then a frame without its blank line.
  end(): EventStreamFrame[] {
    const out: EventStreamFrame[] = [];
    if (this.rest) this.line(this.rest, out);
    this.rest = '';
    this.dispatch(out);
    return out;
  }

  private line(line: string, out: EventStreamFrame[]): void {
    if (line === '') return this.dispatch(out);
    if (line.startsWith(':')) {
      this.comments += 1;
      this.onComment?.(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.id = value;
          this.lastEventId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
      // unknown fields are ignored
    }
  }

  private dispatch(out: EventStreamFrame[]): void {
    // A block without data (only an id, or only comments) is not a frame.
    if (this.data.length > 0) {
      const frame: EventStreamFrame = { event: this.event || 'message', data: this.data.join('\n') };
      if (this.id !== undefined) frame.id = this.id;
      if (this.retry !== undefined) frame.retry = this.retry;
      out.push(frame);
    }
    this.event = '';
    this.data = [];
    this.id = undefined;
    this.retry = undefined;
  }
}

// Reads a fetch body frame by frame. Leaving the loop early cancels the body, which closes the
// connection (the server sees the client go away).
export async function* readEventStream(body: ReadableStream<Uint8Array>, parser: EventStreamParser = new EventStreamParser()): AsyncGenerator<EventStreamFrame, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    finished = true;
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
