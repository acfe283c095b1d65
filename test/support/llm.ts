import type { GenerateRequest, LlmEvent } from '../../src/llm/llm.types.js';

// A provider request with sane defaults, for provider and service tests.
export function llmRequest(model: string, overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    model,
    messages: [{ role: 'user', content: 'Say hello.' }],
    maxTokens: 256,
    signal: new AbortController().signal,
    ...overrides,
  };
}

// Reads a provider stream to its end; a thrown error is returned beside what came before it.
export async function collect(stream: AsyncIterable<LlmEvent>): Promise<{ events: LlmEvent[]; error?: unknown }> {
  const events: LlmEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
  } catch (error) {
    return { events, error };
  }
  return { events };
}

export const textOf = (events: LlmEvent[]) => events.map((e) => (e.type === 'delta' ? e.text : '')).join('');

// Reads a stream, aborting it right after its `after`-th delta. Returns what was thrown, the
// number of deltas seen and when the abort was made (to time the upstream's connection close).
export async function abortAfterDeltas(
  start: (signal: AbortSignal) => AsyncIterable<LlmEvent>,
  after: number,
): Promise<{ caught: unknown; seen: number; abortedAt: number }> {
  const controller = new AbortController();
  let abortedAt = 0;
  let seen = 0;
  try {
    for await (const event of start(controller.signal)) {
      if (event.type === 'delta' && ++seen === after) {
        abortedAt = Date.now();
        controller.abort();
      }
    }
  } catch (error) {
    return { caught: error, seen, abortedAt };
  }
  return { caught: undefined, seen, abortedAt };
}
