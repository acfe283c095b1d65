// Reads a text/event-stream body the way the contract's browser clients do: fetch, then parse
// `id:`, `event:` and `data:` lines; comment lines (": ping") are kept apart.
export interface SseFrame {
  id?: string;
  event: string;
  data: any;
}

export interface SseReader {
  frames: SseFrame[];
  comments: string[];
  // Resolves with the next frame (or undefined at the end of the stream).
  next(): Promise<SseFrame | undefined>;
  // Reads until the stream ends.
  all(): Promise<SseFrame[]>;
  // Reads until a frame of this event arrives.
  until(event: string): Promise<SseFrame[]>;
  cancel(): Promise<void>;
}

export function readSse(response: Response): SseReader {
  if (!response.body) throw new Error('response has no body');
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const queue: SseFrame[] = [];
  let buffer = '';
  let done = false;

  const parseBlock = (block: string) => {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    let any = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else continue;
      any = true;
    }
    if (!any) return;
    const frame: SseFrame = { id, event, data: JSON.parse(data.join('\n')) };
    frames.push(frame);
    queue.push(frame);
  };

  const pump = async (): Promise<boolean> => {
    if (done) return false;
    const { value, done: finished } = await reader.read();
    if (finished) {
      done = true;
      if (buffer.trim()) parseBlock(buffer);
      buffer = '';
      return false;
    }
    buffer += decoder.decode(value, { stream: true });
    let index: number;
    while ((index = buffer.indexOf('\n\n')) !== -1) {
      parseBlock(buffer.slice(0, index));
      buffer = buffer.slice(index + 2);
    }
    return true;
  };

  const next = async (): Promise<SseFrame | undefined> => {
    while (queue.length === 0) {
      if (!(await pump())) return queue.shift();
    }
    return queue.shift();
  };

  return {
    frames,
    comments,
    next,
    async all() {
      while (await next());
      return frames;
    },
    async until(event: string) {
      for (;;) {
        const frame = await next();
        if (!frame || frame.event === event) return frames;
      }
    },
    async cancel() {
      await reader.cancel().catch(() => undefined);
    },
  };
}

export async function postSse(baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify(body),
    signal,
  });
}
