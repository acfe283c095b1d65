import { setImmediate as nextTurn } from 'node:timers/promises';

// Long, synchronous text work (segmenting megabytes into sentences, parsing a large page) would
// hold up every stream this process serves. Such work is written as a generator that yields
// between small pieces; this runs it and gives the event loop a turn whenever it has had the
// thread for `sliceMs`.
export async function runCooperatively<T>(steps: Generator<unknown, T, undefined>, sliceMs = 8, signal?: AbortSignal): Promise<T> {
  let since = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - since >= sliceMs) {
      await nextTurn();
      if (signal?.aborted) throw signal.reason;
      since = performance.now();
    }
  }
}

// The same work at once, for callers that want it whole (tests, small inputs).
export function runToEnd<T>(steps: Generator<unknown, T, undefined>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}
