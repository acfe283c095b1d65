import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../../common/core.module.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import type { AppConfig } from '../../config/app-config.js';
import { HealthCounters } from '../../health/health-counters.js';
import { Lifecycle } from '../../health/lifecycle.js';
import { GENERATION_LOG, type FollowHandlers, type GenerationLog } from './generation-log.js';
import { STOP_CHANNEL, type StopChannel } from './stop-channel.js';

export type StopCause = 'stopped_by_user' | 'client_disconnected' | 'shutdown';

// A generation running in this process.
export interface RunningGeneration {
  readonly messageId: string;
  readonly abort: AbortController;
  keepGenerating: boolean;
  // Transports following it; the last one to leave stops it unless keepGenerating.
  holders: number;
  stopCause?: StopCause;
  // Settles when the generation has stored its end and written its last frame.
  done: Promise<void>;
  // The text so far, and how much of it the last checkpoint stored.
  content: string;
  checkpointed: { chars: number; codePoints: number };
}

// A running or finished generation that a transport can follow from any point.
export interface GenerationHandle {
  messageId: string;
  chatId: string;
  // True when this request joined an earlier one's generation (a retry of its client_message_id).
  attached: boolean;
  follow(afterSeq: number, handlers: FollowHandlers): Promise<() => void>;
  // The transport's client went away; the last one leaving stops the generation unless it was
  // asked to keep generating.
  release(): void;
  // Settles when the generation ends, when it runs in this process.
  done?: Promise<void>;
}

// A place among the running generations, taken before the database is asked, so that a burst
// of sends cannot overshoot the ceiling while their turns are being written.
export interface Admission {
  release(): void;
}

// The generations running in this process: admission against the instance's ceiling, the stop
// that reaches them from any instance, and the handles that transports follow.
@Injectable()
export class GenerationRegistry implements OnModuleInit, BeforeApplicationShutdown {
  private readonly running = new Map<string, RunningGeneration>();
  private admitting = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(GENERATION_LOG) private readonly log: GenerationLog,
    @Inject(STOP_CHANNEL) private readonly stops: StopChannel,
    private readonly health: HealthCounters,
    private readonly lifecycle: Lifecycle,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.stops.subscribe((messageId) => this.abort(messageId, 'stopped_by_user'));
  }

  // Refuses at once, before any I/O, when this instance is draining or full.
  admit(): Admission {
    if (this.lifecycle.draining) throw new AppException(ErrorCode.SHUTTING_DOWN, 'This instance is shutting down; try again', { retry_after_ms: 1000 });
    if (this.running.size + this.admitting >= this.config.maxActiveGenerations) {
      throw new AppException(ErrorCode.SERVER_BUSY, 'Too many answers are being generated on this server; try again shortly', { retry_after_ms: 1000 });
    }
    this.admitting += 1;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.admitting -= 1;
      },
    };
  }

  add(generation: RunningGeneration, admission: Admission): void {
    admission.release();
    this.running.set(generation.messageId, generation);
    this.health.streamStarted();
  }

  remove(messageId: string): void {
    if (this.running.delete(messageId)) this.health.streamEnded();
  }

  get(messageId: string): RunningGeneration | undefined {
    return this.running.get(messageId);
  }

  all(): IterableIterator<RunningGeneration> {
    return this.running.values();
  }

  get size(): number {
    return this.running.size;
  }

  abort(messageId: string, cause: StopCause): void {
    const generation = this.running.get(messageId);
    if (!generation || generation.abort.signal.aborted) return;
    generation.stopCause = cause;
    generation.abort.abort(new AppException(ErrorCode.STOPPED, cause));
  }

  // Stops a generation wherever it runs: here at once, elsewhere through the stop channel.
  async stop(messageId: string): Promise<RunningGeneration | undefined> {
    const local = this.running.get(messageId);
    if (local) this.abort(messageId, 'stopped_by_user');
    else await this.stops.publish(messageId);
    return local;
  }

  // What still runs when the application closes is stopped, stored and closed with its frame.
  async beforeApplicationShutdown(): Promise<void> {
    await this.drain(0);
  }

  // Shutdown: new sends are refused from now on; what runs (and what is being admitted) may
  // finish within `graceMs`; what still runs then is stopped, which stores it with its text,
  // settles it and closes its stream with SHUTTING_DOWN. `cut` ends the grace early.
  async drain(graceMs: number, cut?: Promise<unknown>): Promise<void> {
    this.lifecycle.startDraining();
    const deadline = Date.now() + graceMs;
    let cutShort = false;
    void cut?.then(() => (cutShort = true));
    while ((this.running.size > 0 || this.admitting > 0) && Date.now() < deadline && !cutShort) await sleep(Math.min(50, deadline - Date.now()));
    // Turns being written now are registered (or refused) within a round trip or two.
    for (let waited = 0; this.admitting > 0 && waited < ADMISSION_WAIT_MS; waited += 10) await sleep(10);
    const running = [...this.running.values()];
    for (const generation of running) this.abort(generation.messageId, 'shutdown');
    await Promise.allSettled(running.map((g) => g.done));
  }

  handle(messageId: string, chatId: string, options: { generation?: RunningGeneration; holds: boolean; attached: boolean }): GenerationHandle {
    const held = options.holds ? options.generation : undefined;
    if (held) held.holders += 1;
    let released = false;
    return {
      messageId,
      chatId,
      attached: options.attached,
      follow: (afterSeq, handlers) => this.log.follow(messageId, afterSeq, handlers),
      release: () => {
        if (released || !held) return;
        released = true;
        held.holders -= 1;
        if (held.holders <= 0 && !held.keepGenerating) this.abort(messageId, 'client_disconnected');
      },
      done: options.generation?.done,
    };
  }
}

const ADMISSION_WAIT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(1, ms)));
