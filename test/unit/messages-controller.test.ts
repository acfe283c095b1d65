import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/app-config.js';
import type { GenerationHandle } from '../../src/messages/generation/generation-registry.js';
import type { RegenerateMessage } from '../../src/messages/generation/regenerate-message.use-case.js';
import type { ResumeGeneration } from '../../src/messages/generation/resume-generation.use-case.js';
import type { SendMessage } from '../../src/messages/generation/send-message.use-case.js';
import type { StopGeneration } from '../../src/messages/generation/stop-generation.use-case.js';
import { MessagesController } from '../../src/messages/messages.controller.js';
import { SendMessageDto } from '../../src/messages/dto/send-message.dto.js';

// The window between a request arriving and the engine answering: a client that leaves in it
// must still release the generation it started (which stops it).
describe(MessagesController.name, () => {
  function fakeHandle() {
    const calls = { release: 0, follow: 0 };
    const handle: GenerationHandle = {
      messageId: crypto.randomUUID(),
      chatId: crypto.randomUUID(),
      attached: false,
      follow: async () => {
        calls.follow++;
        return () => undefined;
      },
      release: () => {
        calls.release++;
      },
    };
    return { handle, calls };
  }

  const controller = (sendMessage: SendMessage) =>
    new MessagesController(sendMessage, {} as RegenerateMessage, {} as StopGeneration, {} as ResumeGeneration, loadConfig({}));

  function fakeResponse(): Response & EventEmitter {
    const res = new EventEmitter() as Response & EventEmitter;
    Object.assign(res, {
      status: () => res,
      setHeader: () => res,
      flushHeaders: () => undefined,
      write: () => true,
      writableLength: 0,
      end: () => res,
      writableEnded: false,
      destroyed: false,
      socket: null,
    });
    return res;
  }

  it('releases a generation whose client left before the engine answered, and writes nothing', async () => {
    const { handle, calls } = fakeHandle();
    let answer!: (h: GenerationHandle) => void;
    const sendMessage = { execute: () => new Promise<GenerationHandle>((resolve) => (answer = resolve)) } as unknown as SendMessage;
    const sut = controller(sendMessage);
    const res = fakeResponse();
    const dto = Object.assign(new SendMessageDto(), { content: 'hi' });

    const done = sut.send(dto, { kind: 'anonymous', anonId: crypto.randomUUID() }, { ip: '127.0.0.1', socket: {} } as unknown as Request, res);
    res.emit('close');
    answer(handle);
    await done;

    expect(calls.release).toBe(1);
    expect(calls.follow).toBe(0);
  });

  it('releases once when the client leaves mid-stream', async () => {
    const { handle, calls } = fakeHandle();
    const sut = controller({ execute: async () => handle } as unknown as SendMessage);
    const res = fakeResponse();
    await sut.send(Object.assign(new SendMessageDto(), { content: 'hi' }), { kind: 'anonymous', anonId: crypto.randomUUID() }, { ip: '127.0.0.1', socket: {} } as unknown as Request, res);
    expect(calls.follow).toBe(1);
    res.emit('close');
    expect(calls.release).toBe(1);
  });
});
