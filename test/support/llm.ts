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
