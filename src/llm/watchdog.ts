// A provider that goes quiet: `firstByteMs` from the start until the first sign of life,
// `idleMs` between two. When either passes, `signal` aborts and `expired` says which. The
// time a consumer spends with a yielded event (pause/resume) does not count.
export class ProviderWatchdog {
  private readonly controller = new AbortController();
  private timer?: NodeJS.Timeout;
  private due: number;
  private seen = false;
  expired?: 'first_byte' | 'idle';

  constructor(
    outer: AbortSignal,
    private readonly firstByteMs: number,
    private readonly idleMs: number,
  ) {
    const onAbort = () => this.controller.abort(outer.reason);
    if (outer.aborted) onAbort();
    else outer.addEventListener('abort', onAbort, { once: true });
    this.controller.signal.addEventListener('abort', () => outer.removeEventListener('abort', onAbort), { once: true });
    this.due = Date.now() + firstByteMs;
    this.arm(firstByteMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  // Any event from the provider, text or not. While paused it only counts as seen: a provider
  // on another thread reads on while the consumer holds an event.
  activity = (): void => {
    this.seen = true;
    if (this.due !== Infinity) this.due = Date.now() + this.idleMs;
  };

  pause(): void {
    this.due = Infinity;
  }

  resume(): void {
    this.due = Date.now() + (this.seen ? this.idleMs : this.firstByteMs);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      const now = Date.now();
      if (this.due === Infinity) return this.arm(this.idleMs);
      if (now < this.due) return this.arm(this.due - now);
      this.expired = this.seen ? 'idle' : 'first_byte';
      this.controller.abort(new Error(`provider ${this.expired} timeout`));
    }, Math.max(1, ms));
    this.timer.unref();
  }
}
