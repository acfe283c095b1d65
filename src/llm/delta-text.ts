import { wellFormed } from '../common/input-guard.js';

// Makes a model's deltas storable as they stream: NUL characters (PostgreSQL text cannot hold
// them) are dropped, a surrogate pair split across two deltas is held back and joined, and a
// lone surrogate becomes U+FFFD, as PostgreSQL's driver would store it. So the deltas joined
// are exactly the text that is stored.
export class DeltaText {
  private pendingHigh = '';

  push(text: string): string {
    let next = this.pendingHigh + (text.includes('\0') ? text.replaceAll('\0', '') : text);
    this.pendingHigh = '';
    const last = next.charCodeAt(next.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.pendingHigh = next.slice(-1);
      next = next.slice(0, -1);
    }
    return wellFormed(next);
  }

  // The end of the stream: a high surrogate still waiting for its pair is a lone one.
  flush(): string {
    const rest = this.pendingHigh ? '\uFFFD' : '';
    this.pendingHigh = '';
    return rest;
  }
}
