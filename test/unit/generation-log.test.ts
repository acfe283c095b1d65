import { describe, expect, it } from 'vitest';
import { formatFrame } from '../../src/common/sse/sse-writer.js';
import { MemoryGenerationLog } from '../../src/messages/generation/generation-log.js';
import type { GenerationEvent } from '../../src/messages/stream-events.js';

const delta = (messageId: string, seq: number): GenerationEvent => ({
  id: `${messageId}:${seq}`,
  event: 'assistant_delta',
  data: { chat_id: 'c', message_id: messageId, delta: `w${seq} ` },
});

async function closedLog(log: MemoryGenerationLog, messageId: string, events: number): Promise<void> {
  for (let seq = 1; seq <= events; seq++) log.append(messageId, delta(messageId, seq));
  await log.close(messageId);
}

async function replay(log: MemoryGenerationLog, messageId: string): Promise<number[]> {
  const seqs: number[] = [];
  await log.follow(messageId, 0, { onEvent: (event) => seqs.push(Number(event.id.split(':')[1])), onEnd: () => undefined });
  return seqs;
}

describe('MemoryGenerationLog bounds', () => {
  it('lets the oldest ended logs go once they hold more events than the bound, and keeps running ones', async () => {
    const log = new MemoryGenerationLog(20_000, 60_000, 100, 250);
    log.append('running', delta('running', 1));
    await closedLog(log, 'a', 100);
    await closedLog(log, 'b', 100);
    expect(await log.has('a')).toBe(true);

    // 300 ended events: the oldest log goes, the two newest stay whole.
    await closedLog(log, 'c', 100);
    expect(await log.has('a')).toBe(false);
    expect(await replay(log, 'b')).toHaveLength(100);
    expect(await replay(log, 'c')).toHaveLength(100);

    // Running logs count for nothing here: a resume needs them.
    for (let seq = 2; seq <= 400; seq++) log.append('running', delta('running', seq));
    expect(await replay(log, 'running')).toHaveLength(400);
    expect(await log.has('b')).toBe(true);

    // Forgotten logs no longer count: b and c (200) plus 50 fit again.
    await closedLog(log, 'd', 50);
    expect(await log.has('b')).toBe(true);
    expect(await log.has('d')).toBe(true);
  });

  it('drops at once an ended log bigger than the whole bound', async () => {
    const log = new MemoryGenerationLog(20_000, 60_000, 100, 250);
    await closedLog(log, 'small', 10);
    await closedLog(log, 'huge', 300);
    expect(await log.has('huge')).toBe(false);
    expect(await log.has('small')).toBe(false);
    await closedLog(log, 'next', 250);
    expect(await log.has('next')).toBe(true);
  });

  it('still bounds the number of ended logs', async () => {
    const log = new MemoryGenerationLog(20_000, 60_000, 2, 1_000);
    for (const id of ['a', 'b', 'c']) await closedLog(log, id, 1);
    expect([await log.has('a'), await log.has('b'), await log.has('c')]).toEqual([false, true, true]);
  });
});

describe('formatFrame', () => {
  it('serialises each frame to its SSE text, and the same frame to the same string for every sink', () => {
    const first = delta('m', 1);
    const second = delta('m', 2);
    const text = formatFrame(first);
    expect(text).toBe('id: m:1\nevent: assistant_delta\ndata: {"chat_id":"c","message_id":"m","delta":"w1 "}\n\n');
    expect(formatFrame(first)).toBe(text);
    expect(formatFrame(second)).toBe('id: m:2\nevent: assistant_delta\ndata: {"chat_id":"c","message_id":"m","delta":"w2 "}\n\n');
    // An older frame again (a replay) is serialised again, to the same text.
    expect(formatFrame(first)).toBe(text);
    expect(formatFrame({ event: 'ping', data: {} })).toBe('event: ping\ndata: {}\n\n');
  });
});
