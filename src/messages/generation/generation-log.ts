import type { GenerationEvent } from '../stream-events.js';

// The ordered events of one generation, kept for a while so that a client can resume with
// Last-Event-ID: read what it missed, then follow live.
export interface GenerationLog {
  // In memory this returns nothing: the per-delta path awaits no I/O on a single instance.
  append(messageId: string, event: GenerationEvent): void | Promise<void>;
  // Marks the end: followers stop after the last event; the log expires later.
  close(messageId: string): Promise<void>;
  // Calls onEvent for every event with seq > afterSeq, in order, without gaps or repeats, then live
  // ones, and onEnd once the log is closed. Returns a function that stops following.
  follow(messageId: string, afterSeq: number, handlers: FollowHandlers): Promise<() => void>;
  // Whether anything is known about this generation (false when it expired or never ran here).
  has(messageId: string): Promise<boolean>;
  // Ends followers and forgets the log (a generation whose process died): the stored message is
  // then the only account of it.
  discard(messageId: string): Promise<void>;
}

export interface FollowHandlers {
  onEvent(event: GenerationEvent): void;
  onEnd(): void;
}

export const GENERATION_LOG = Symbol('GENERATION_LOG');

export function seqOf(event: GenerationEvent): number {
  return Number(event.id.slice(event.id.lastIndexOf(':') + 1));
}

// "<message id>:<seq>" → its parts; undefined when the header is not one of ours.
export function parseEventId(value: string | undefined): { messageId: string; seq: number } | undefined {
  if (!value) return undefined;
  const match = /^([0-9a-f-]{36}):(\d{1,9})$/i.exec(value.trim());
  return match ? { messageId: match[1].toLowerCase(), seq: Number(match[2]) } : undefined;
}

interface Entry {
  events: GenerationEvent[];
  closed: boolean;
  followers: Set<FollowHandlers>;
  expiry?: NodeJS.Timeout;
}

// Single-instance log in memory. Bounded: at most maxEvents per generation (the oldest are
// trimmed), kept for ttlMs after the end, and at most maxClosed ended logs holding at most
// maxClosedEvents events in all at once (the oldest go first; a resume then replays the stored
// message). The event bound is what holds memory: an ended log of a long answer keeps every
// delta, about 200 bytes each, and without it 5,000 answers of 1,000 deltas held 1 GB.
export class MemoryGenerationLog implements GenerationLog {
  private readonly entries = new Map<string, Entry>();
  // Ended logs, oldest first (a Map keeps insertion order), and the events they hold.
  private readonly closedOrder = new Map<string, true>();
  private closedEvents = 0;

  constructor(
    private readonly maxEvents = 20_000,
    private readonly ttlMs = 15 * 60_000,
    private readonly maxClosed = 5_000,
    private readonly maxClosedEvents = 250_000,
  ) {}

  append(messageId: string, event: GenerationEvent): void {
    const entry = this.entry(messageId);
    if (entry.closed) return;
    entry.events.push(event);
    if (entry.events.length > this.maxEvents) entry.events.shift();
    for (const follower of entry.followers) follower.onEvent(event);
  }

  async close(messageId: string): Promise<void> {
    const entry = this.entry(messageId);
    if (entry.closed) return;
    entry.closed = true;
    for (const follower of entry.followers) follower.onEnd();
    entry.followers.clear();
    entry.expiry = setTimeout(() => this.forget(messageId), this.ttlMs);
    entry.expiry.unref();
    this.closedOrder.set(messageId, true);
    this.closedEvents += entry.events.length;
    // This log too, when it alone is over the bound.
    while (this.closedOrder.size > this.maxClosed || this.closedEvents > this.maxClosedEvents) this.forget(this.closedOrder.keys().next().value!);
  }

  async follow(messageId: string, afterSeq: number, handlers: FollowHandlers): Promise<() => void> {
    // A generation that has not written its first frame yet gets its log now: the follower hears
    // everything from the first frame on.
    const entry = this.entry(messageId);
    // Synchronous replay then registration: no event can slip in between.
    for (const event of entry.events) if (seqOf(event) > afterSeq) handlers.onEvent(event);
    if (entry.closed) {
      handlers.onEnd();
      return () => undefined;
    }
    entry.followers.add(handlers);
    return () => entry.followers.delete(handlers);
  }

  async has(messageId: string): Promise<boolean> {
    return this.entries.has(messageId);
  }

  async discard(messageId: string): Promise<void> {
    if (!this.entries.has(messageId)) return;
    await this.close(messageId);
    this.forget(messageId);
  }

  private forget(messageId: string): void {
    const entry = this.entries.get(messageId);
    clearTimeout(entry?.expiry);
    this.entries.delete(messageId);
    if (this.closedOrder.delete(messageId)) this.closedEvents -= entry?.events.length ?? 0;
  }

  private entry(messageId: string): Entry {
    let entry = this.entries.get(messageId);
    if (!entry) {
      entry = { events: [], closed: false, followers: new Set() };
      this.entries.set(messageId, entry);
    }
    return entry;
  }
}
