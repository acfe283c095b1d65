import { describe, expect, it } from 'vitest';
import { EchoProvider, splitWords } from '../../src/llm/echo.provider.js';
import type { GenerateRequest, LlmEvent } from '../../src/llm/llm.types.js';
import { ProviderFailure } from '../../src/llm/llm.types.js';
import { collect } from '../support/llm.js';

function request(content: string, overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    model: 'echo',
    messages: [
      { role: 'user', content: 'an earlier question' },
      { role: 'assistant', content: 'an earlier answer' },
      { role: 'user', content },
    ],
    maxTokens: 1024,
    signal: new AbortController().signal,
    ...overrides,
  };
}

const deltas = (events: LlmEvent[]) => events.flatMap((e) => (e.type === 'delta' ? [e.text] : []));

describe(EchoProvider.name, () => {
  const sut = new EchoProvider(0);

  it.each([
    'Hello there, echo!',
    '  leading and trailing spaces  ',
    'lines\n\nand\ttabs\r\nmixed',
    'emoji 👋🏽 and accents: déjà vu',
    'one',
  ])('streams the last user message back word by word, joining to exactly %j', async (content) => {
    const { events, error } = await collect(sut.stream(request(content)));

    expect(error).toBeUndefined();
    expect(deltas(events).join('')).toBe(content);
    expect(deltas(events)).toHaveLength(content.trim().split(/\s+/).length);
    expect(events.at(-1)).toMatchObject({ type: 'done', stopReason: 'end_turn' });
  });

  it('answers an empty or whitespace-only message with a non-empty reply', async () => {
    for (const content of ['', '   \n ']) {
      const { events } = await collect(sut.stream(request(content)));
      expect(deltas(events).join('').trim()).not.toBe('');
      expect(events.at(-1)).toMatchObject({ type: 'done', stopReason: 'end_turn' });
    }
  });

  it('estimates usage at about 4 characters per token', async () => {
    const { events } = await collect(sut.stream(request('twelve chars')));

    const prompt = 'an earlier question' + 'an earlier answer' + 'twelve chars';
    expect(events.at(-1)).toEqual({
      type: 'done',
      stopReason: 'end_turn',
      usage: { inputTokens: Math.ceil(prompt.length / 4), outputTokens: 3 },
    });
  });

  it('stops with max_tokens when the reply would exceed the limit', async () => {
    const content = 'word '.repeat(50);
    const { events } = await collect(sut.stream(request(content, { maxTokens: 5 })));

    const text = deltas(events).join('');
    expect(text).toBe(content.slice(0, 20));
    expect(events.at(-1)).toMatchObject({ type: 'done', stopReason: 'max_tokens', usage: { outputTokens: 5 } });
  });

  it('stops at once on abort with an AbortError and no further events', async () => {
    const slow = new EchoProvider(10_000);
    const controller = new AbortController();
    const consuming = collect(slow.stream(request('never sent', { signal: controller.signal })));
    controller.abort();

    const { events, error } = await consuming;
    expect(events).toEqual([]);
    expect((error as Error).name).toBe('AbortError');
    expect(error).not.toBeInstanceOf(ProviderFailure);
  });

  it('yields nothing more after an abort between deltas', async () => {
    const controller = new AbortController();
    const events: LlmEvent[] = [];
    let caught: unknown;
    try {
      for await (const event of new EchoProvider(1).stream(request('one two three four', { signal: controller.signal }))) {
        events.push(event);
        controller.abort();
      }
    } catch (error) {
      caught = error;
    }
    expect(deltas(events)).toEqual(['one ']);
    expect(events.some((e) => e.type === 'done')).toBe(false);
    expect((caught as Error).name).toBe('AbortError');
  });
});

describe(splitWords.name, () => {
  it('keeps whitespace so that the pieces join back to the input', () => {
    expect(splitWords(' a  b\nc ')).toEqual([' a  ', 'b\n', 'c ']);
  });
});
