import { describe, expect, it } from 'vitest';
import { sourceChunks, UiMessageStreamMapper } from '../../src/messages/ai-sdk/ui-message-stream.js';
import type { GenerationEvent } from '../../src/messages/stream-events.js';
import type { UsageInfo } from '../../src/usage/usage-info.js';

const MESSAGE = '6f1d3c1e-6a57-4a49-9c67-0d1e2a3b4c5d';
const CHAT = '0a5e7f04-3d3b-4a1e-8f7e-2b1c9d8e7f60';
const usage: UsageInfo = { identity: 'anonymous', anon_id: 'x', messages_used: 1, messages_limit: 10, messages_remaining: 9, resets_at: null };

let seq = 0;
const frame = <E extends GenerationEvent['event']>(event: E, data: Extract<GenerationEvent, { event: E }>['data']) => ({ id: `${MESSAGE}:${++seq}`, event, data }) as GenerationEvent;
const typing = () => frame('assistant_typing', { chat_id: CHAT, user_message_id: 'u', message_id: MESSAGE, model: 'echo' });
const delta = (text: string) => frame('assistant_delta', { chat_id: CHAT, message_id: MESSAGE, delta: text });

function run(frames: GenerationEvent[]) {
  const mapper = new UiMessageStreamMapper(MESSAGE);
  return [...frames.flatMap((f) => mapper.map(f)), ...mapper.end()];
}

describe(UiMessageStreamMapper.name, () => {
  it('maps a complete answer, the closing chunk carrying the usage', () => {
    const chunks = run([
      typing(),
      delta('Hel'),
      delta('lo'),
      frame('assistant_complete', { chat_id: CHAT, message_id: MESSAGE, content: 'Hello', model: 'echo', stop_reason: 'max_tokens', usage: { input_tokens: 1, output_tokens: 2 }, created_at: '' }),
      frame('usage_info', usage),
    ]);
    expect(chunks).toEqual([
      { type: 'start', messageId: MESSAGE, messageMetadata: { chat_id: CHAT, user_message_id: 'u', model: 'echo' } },
      { type: 'start-step' },
      { type: 'text-start', id: 'text-0' },
      { type: 'text-delta', id: 'text-0', delta: 'Hel' },
      { type: 'text-delta', id: 'text-0', delta: 'lo' },
      { type: 'text-end', id: 'text-0' },
      { type: 'finish-step' },
      { type: 'finish', finishReason: 'length', messageMetadata: { model: 'echo', stop_reason: 'max_tokens', usage: { input_tokens: 1, output_tokens: 2 }, usage_info: usage } },
    ]);
  });

  it('a failure is an error chunk starting with its code, then finish with reason error', () => {
    const chunks = run([typing(), delta('a'), frame('assistant_error', { chat_id: CHAT, message_id: MESSAGE, code: 'PROVIDER_ERROR', error: 'The model provider failed', retryable: false })]);
    expect(chunks.slice(-4)).toEqual([
      { type: 'text-end', id: 'text-0' },
      { type: 'finish-step' },
      { type: 'error', errorText: 'PROVIDER_ERROR: The model provider failed' },
      { type: 'finish', finishReason: 'error' },
    ]);
  });

  it('a stopped answer ends with abort, after its usage as metadata', () => {
    const chunks = run([typing(), frame('assistant_error', { chat_id: CHAT, message_id: MESSAGE, code: 'STOPPED', error: 'The generation was stopped', retryable: false }), frame('usage_info', usage)]);
    expect(chunks.slice(-3)).toEqual([
      { type: 'finish-step' },
      { type: 'message-metadata', messageMetadata: { usage_info: usage } },
      { type: 'abort', reason: 'STOPPED: The generation was stopped' },
    ]);
  });

  it('a log that ends without a last word ends the message with an error', () => {
    const chunks = run([typing(), delta('half')]);
    expect(chunks.slice(-4)).toEqual([
      { type: 'text-end', id: 'text-0' },
      { type: 'finish-step' },
      { type: 'error', errorText: 'INTERNAL_ERROR: The generation ended without finishing' },
      { type: 'finish', finishReason: 'error' },
    ]);
  });

  it('a regenerate opens with the replaced answer in the metadata, once', () => {
    const chunks = run([frame('assistant_regenerating', { chat_id: CHAT, message_id: MESSAGE, replaces: 'old' }), typing()]);
    expect(chunks.filter((c) => c.type === 'start')).toEqual([{ type: 'start', messageId: MESSAGE, messageMetadata: { chat_id: CHAT, replaces: 'old' } }]);
  });

  it('maps message_sources to source-document chunks in citation order', () => {
    expect(
      sourceChunks({
        chat_id: CHAT,
        message_id: MESSAGE,
        sources: [
          { id: 's1', document_id: 'd1', filename: 'guide.pdf', content: 'passage', score: 0.9, metadata: { page: 3 } },
          { id: 's2', document_id: 'd2', filename: 'notes.md', content: 'other', score: 0.5, metadata: {} },
        ],
      }),
    ).toEqual([
      { type: 'source-document', sourceId: 's1', mediaType: 'application/pdf', title: 'guide.pdf (p. 3)', filename: 'guide.pdf', providerMetadata: { chat_backend: { index: 1, document_id: 'd1', score: 0.9, content: 'passage', page: 3 } } },
      { type: 'source-document', sourceId: 's2', mediaType: 'text/markdown', title: 'notes.md', filename: 'notes.md', providerMetadata: { chat_backend: { index: 2, document_id: 'd2', score: 0.5, content: 'other' } } },
    ]);
  });
});
