import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_ANTHROPIC_REPLY, FAKE_MARKERS, fakeMarker, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { FAKE_OPENAI_REPLY, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';

// The fakes' own wire format, read with plain fetch: what the SDK tests rely on.

interface Frame {
  event?: string;
  data: string;
}

function parseSse(text: string): Frame[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const frame: Frame = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) frame.event = line.slice(7);
        if (line.startsWith('data: ')) frame.data += line.slice(6);
      }
      return frame;
    });
}

describe('fake Anthropic upstream', () => {
  let fake: FakeAnthropic;
  const post = (content: string, headers: Record<string, string> = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }) =>
    fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'claude-sonnet-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content }] }),
    });

  beforeAll(async () => {
    fake = await startFakeAnthropic();
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it("answers with Anthropic's event sequence and headers", async () => {
    const response = await post('hi');
    const frames = parseSse(await response.text());

    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    const names = frames.map((f) => f.event);
    expect(names.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    for (const frame of frames) expect(JSON.parse(frame.data).type).toBe(frame.event);
    const start = JSON.parse(frames[0].data);
    expect(start.message).toMatchObject({ id: expect.stringMatching(/^msg_/), model: 'claude-sonnet-5', role: 'assistant' });
    expect(start.message.usage.input_tokens).toBeGreaterThan(0);
    const text = frames.filter((f) => f.event === 'content_block_delta').map((f) => JSON.parse(f.data).delta.text).join('');
    expect(text).toBe(FAKE_ANTHROPIC_REPLY);
    const delta = JSON.parse(frames.at(-2)!.data);
    expect(delta).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: Math.ceil(text.length / 4) } });
  });

  it('picks a scenario from a marker in the last user message, but a queued one first', async () => {
    const marked = await post(`please ${fakeMarker('529')}`);
    expect(marked.status).toBe(529);
    expect(await marked.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });

    fake.enqueue(FAKE_MARKERS['429']);
    const queued = await post(`please ${fakeMarker('529')}`);
    expect(queued.status).toBe(429);
    expect(queued.headers.get('retry-after')).toBe('0');
    expect(await queued.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });

  it('sends an in-stream error event for the overloaded scenario', async () => {
    const frames = parseSse(await (await post(fakeMarker('overloaded'))).text());

    expect(frames.filter((f) => f.event === 'content_block_delta')).toHaveLength(2);
    expect(frames.at(-1)).toEqual({ event: 'error', data: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' });
  });

  it('refuses a request without an API key like the real API', async () => {
    const response = await post('hi', { 'anthropic-version': '2023-06-01' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });
});

describe('fake OpenAI-compatible upstream', () => {
  let fake: FakeOpenAi;

  beforeAll(async () => {
    fake = await startFakeOpenAi();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('streams chat.completion.chunk lines, a usage chunk, then [DONE]', async () => {
    const response = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama3.2', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const frames = parseSse(await response.text());

    expect(frames.at(-1)?.data).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f.data));
    for (const chunk of chunks) expect(chunk.object).toBe('chat.completion.chunk');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(FAKE_OPENAI_REPLY);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 1, completion_tokens: Math.ceil(FAKE_OPENAI_REPLY.length / 4) } });
  });
});
