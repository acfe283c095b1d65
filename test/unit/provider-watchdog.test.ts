import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProviderWatchdog } from '../../src/llm/watchdog.js';

describe(ProviderWatchdog.name, () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('counts silence only: signs of life that arrive while the consumer holds an event do not restart the idle clock, and the pause does not count', () => {
    const watchdog = new ProviderWatchdog(new AbortController().signal, 1_000, 500);
    watchdog.activity();
    watchdog.pause();
    // A provider on another thread reads on meanwhile: its activity must not end the pause.
    vi.advanceTimersByTime(200);
    watchdog.activity();
    vi.advanceTimersByTime(5_000);
    expect(watchdog.signal.aborted).toBe(false);
    watchdog.resume();
    vi.advanceTimersByTime(400);
    expect(watchdog.signal.aborted).toBe(false);
    vi.advanceTimersByTime(200);
    expect(watchdog.signal.aborted).toBe(true);
    expect(watchdog.expired).toBe('idle');
    watchdog.dispose();
  });
});
