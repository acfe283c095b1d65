import type { Response } from 'express';
import type { GenerationHandle } from './generation/generation-registry.js';
import type { GenerationEvent } from './stream-events.js';

// Where an HTTP transport writes a generation's frames (the SSE stream, the AI SDK's UI message
// stream). `leave` is called by the sink itself when it gives up on a slow reader.
export interface FrameSink {
  open(): void;
  send(frame: GenerationEvent): void;
  end(): void;
  isGone(): boolean;
}

// Opens the generation, then writes its frames from afterSeq. The close listener is in place
// before the engine is asked, so a client that leaves at once still releases (and so stops)
// what it started. Refusals thrown by `open` reach the exception filter before any byte is
// written. `open` answering null means there is nothing to follow: 204.
export async function followGeneration(
  res: Response,
  afterSeq: number,
  open: () => Promise<GenerationHandle | null>,
  sinkFor: (handle: GenerationHandle, leave: () => void) => FrameSink,
): Promise<void> {
  const state: { gone: boolean; handle?: GenerationHandle; unfollow?: () => void } = { gone: false };
  const leave = () => {
    if (state.gone) return;
    state.gone = true;
    state.unfollow?.();
    state.handle?.release();
  };
  res.on('close', leave);
  const handle = await open();
  if (!handle) {
    if (!state.gone) res.status(204).end();
    return;
  }
  state.handle = handle;
  if (state.gone) {
    handle.release();
    return;
  }
  const sink = sinkFor(handle, leave);
  sink.open();
  state.unfollow = await handle.follow(afterSeq, { onEvent: (frame) => sink.send(frame), onEnd: () => sink.end() });
  if (sink.isGone()) state.unfollow();
}
