// The worker thread of ProviderThread: the SDK clients, their HTTP and their stream parsing, off
// the main thread. It runs the providers as they are and sends on only what the engine uses: the
// text of each delta, the end, a failure, signs of life and the SDKs' log lines, batched per turn
// of its event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCode } from '../common/errors/error-code.js';
import type { AppLogger } from '../common/logging/logger.js';
import { AnthropicProvider } from './anthropic.provider.js';
import { ProviderFailure, type LlmProvider } from './llm.types.js';
import { OpenAiProvider } from './openai.provider.js';
import { wireOf, type FromThread, type ProviderThreadSettings, type ToThread, type WireFailure } from './provider-thread.js';

const settings = workerData as ProviderThreadSettings;
const port = parentPort!;

let outbox: FromThread[] = [];
// Streams that showed a sign of life (any SDK event) in this batch, and those that sent a message
// in it (itself a sign of life): an activity message goes only for the first without the second.
const lively = new Set<number>();
const spoke = new Set<number>();
function send(message: FromThread): void {
  if (outbox.length === 0 && lively.size === 0) setImmediate(flush);
  if ('id' in message) spoke.add(message.id);
  outbox.push(message);
}
function flush(): void {
  for (const id of lively) if (!spoke.has(id)) outbox.push({ kind: 'activity', id });
  lively.clear();
  spoke.clear();
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
}
function activity(id: number): void {
  if (outbox.length === 0 && lively.size === 0) setImmediate(flush);
  lively.add(id);
}

// The SDKs' warn and error lines (sdkLogger), logged by the main thread's logger.
function forwardingLogger(bindings: Record<string, unknown>): AppLogger {
  // Through JSON: a batch that could not be cloned would take every stream's messages with it.
  const line = (level: 'error' | 'warn' | 'info' | 'debug') => (obj: object, msg?: string) => send({ kind: 'log', level, obj: JSON.parse(JSON.stringify({ ...bindings, ...obj })) as object, msg: String(msg ?? '') });
  return { child: (more: Record<string, unknown>) => forwardingLogger({ ...bindings, ...more }), error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') } as unknown as AppLogger;
}

const providers = new Map<string, LlmProvider>();
if (settings.anthropic) providers.set('anthropic', new AnthropicProvider(settings.anthropic, forwardingLogger({})));
if (settings.openai) providers.set('openai', new OpenAiProvider(settings.openai, forwardingLogger({})));

const running = new Map<number, AbortController>();
port.postMessage([{ kind: 'ready' }] satisfies FromThread[]);

// What the providers throw is a ProviderFailure; anything else is a failure of the provider too.
function wireFailure(error: unknown): WireFailure {
  return wireOf(error instanceof ProviderFailure ? error : new ProviderFailure(ErrorCode.PROVIDER_ERROR, 'The model provider failed', false, { cause: error }));
}

async function run(message: Extract<ToThread, { type: 'start' }>): Promise<void> {
  const { id } = message;
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const provider = providers.get(message.provider);
    if (!provider) throw new ProviderFailure(ErrorCode.PROVIDER_ERROR, `The provider "${message.provider}" is not configured`, false);
    const events = provider.stream({ ...message.request, signal: controller.signal, onActivity: () => activity(id) });
    for await (const event of events) {
      if (event.type === 'delta') send({ kind: 'delta', id, text: event.text });
      else send({ kind: 'done', id, event });
    }
    send({ kind: 'end', id });
  } catch (error) {
    // An abort was asked for by the main thread, which has stopped listening to this stream.
    if (!controller.signal.aborted) send({ kind: 'failure', id, failure: wireFailure(error) });
  } finally {
    running.delete(id);
  }
}

port.on('message', (message: ToThread) => {
  if (message.type === 'abort') running.get(message.id)?.abort();
  else void run(message);
});
