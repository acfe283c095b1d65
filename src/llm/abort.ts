// Abort helpers shared by the providers and the service.

// The error a stream throws when its signal fires: always named AbortError, so callers can tell
// a stop apart from a provider failure; a custom reason given to abort() is kept as the cause.
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const error = new Error('The generation was aborted', { cause: reason });
  error.name = 'AbortError';
  return error;
}


// Resolves after `ms`, or rejects with abortError(signal) as soon as the signal fires.
// 0 ms yields to the event loop once (setImmediate), without a timer's 1 ms floor.
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  if (ms <= 0) {
    return new Promise((resolve, reject) => setImmediate(() => (signal.aborted ? reject(abortError(signal)) : resolve())));
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
