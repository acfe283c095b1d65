import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Identity } from '../auth/identity.js';
import { CurrentIdentity, IdentityGuard } from '../auth/identity.guard.js';
import { APP_CONFIG } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { ClientAddress } from '../usage/client-address.js';
import { RateLimitGuard } from '../usage/rate-limit.guard.js';
import { SseWriter } from '../common/sse/sse-writer.js';
import type { AppConfig } from '../config/app-config.js';
import { MessageIdParam, RegenerateDto, SendMessageDto, sendCommandFrom, TestSseQuery } from './dto/send-message.dto.js';
import { parseEventId } from './generation/generation-log.js';
import { GenerationService, type GenerationHandle } from './generation/generation.service.js';

// The SSE transport: it turns HTTP requests into engine commands and writes the engine's events
// as frames. No model or billing logic lives here.
@Controller('api/v1/messages')
export class MessagesController {
  constructor(
    private readonly engine: GenerationService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('send')
  @UseGuards(IdentityGuard, RateLimitGuard)
  async send(@Body() dto: SendMessageDto, @CurrentIdentity() identity: Identity, @Req() req: Request, @Res() res: Response) {
    await this.stream(res, 0, () => this.engine.send(sendCommandFrom(dto, identity, ClientAddress.fromRequest(req))));
  }

  @Post('regenerate')
  @UseGuards(IdentityGuard, RateLimitGuard)
  async regenerate(@Body() dto: RegenerateDto, @CurrentIdentity() identity: Identity, @Req() req: Request, @Res() res: Response) {
    await this.stream(res, 0, () => this.engine.regenerate({
      identity,
      ip: ClientAddress.fromRequest(req),
      chatId: dto.chat_id,
      messageId: dto.message_id,
      model: dto.model,
      temperature: dto.temperature,
      maxTokens: dto.max_tokens,
      keepGenerating: dto.keep_generating,
    }));
  }

  @Post(':message_id/stop')
  @HttpCode(202)
  @UseGuards(IdentityGuard, RateLimitGuard)
  stop(@Param() params: MessageIdParam, @CurrentIdentity() identity: Identity) {
    return this.engine.stop(identity, params.message_id);
  }

  // Resume: the frames after Last-Event-ID, then live ones until the end.
  @Get(':message_id/stream')
  @UseGuards(IdentityGuard, RateLimitGuard)
  async resume(
    @Param() params: MessageIdParam,
    @CurrentIdentity() identity: Identity,
    @Res() res: Response,
    @Headers('last-event-id') lastEventId?: string,
  ) {
    let afterSeq = 0;
    if (lastEventId) {
      const parsed = parseEventId(lastEventId);
      if (!parsed || parsed.messageId !== params.message_id.toLowerCase()) {
        throw new AppException(ErrorCode.VALIDATION_ERROR, 'Last-Event-ID must be "<message_id>:<seq>" of this message');
      }
      afterSeq = parsed.seq;
    }
    await this.stream(res, afterSeq, () => this.engine.attach(identity, params.message_id));
  }

  @Get('test-sse')
  @UseGuards(RateLimitGuard)
  testSseGet(@Query() query: TestSseQuery, @Res() res: Response) {
    this.testSse(query, res);
  }

  @Post('test-sse')
  @UseGuards(RateLimitGuard)
  testSsePost(@Query() query: TestSseQuery, @Res() res: Response) {
    this.testSse(query, res);
  }

  // Opens the generation, then writes its frames from afterSeq. The close listener is in place
  // before the engine is asked, so a client that leaves at once still releases (and so stops)
  // what it started. Refusals thrown by `open` reach the SSE filter before any byte is written.
  private async stream(res: Response, afterSeq: number, open: () => Promise<GenerationHandle>): Promise<void> {
    const state: { gone: boolean; handle?: GenerationHandle; unfollow?: () => void } = { gone: false };
    res.on('close', () => {
      state.gone = true;
      state.unfollow?.();
      state.handle?.release();
    });
    const handle = await open();
    state.handle = handle;
    if (state.gone) {
      handle.release();
      return;
    }
    const writer = new SseWriter(res, this.config.ssePingIntervalMs);
    writer.open();
    state.unfollow = await handle.follow(afterSeq, { onEvent: (frame) => writer.send(frame), onEnd: () => writer.end() });
    if (writer.isGone()) state.unfollow();
  }

  // A deployment check that needs no identity and touches no model: `curl -N .../test-sse`.
  private testSse({ count, interval_ms }: TestSseQuery, res: Response): void {
    const writer = new SseWriter(res, this.config.ssePingIntervalMs);
    const streamId = randomUUID();
    writer.open();
    let counter = 0;
    const tick = () => {
      if (writer.isGone()) return;
      counter += 1;
      writer.send({ id: `${streamId}:${counter}`, event: 'test_message', data: { counter, message: `Test message ${counter} of ${count}`, timestamp: new Date().toISOString() } });
      if (counter < count) {
        // interval_ms=0 still yields to the event loop between frames, without a timer's 1 ms floor.
        if (interval_ms === 0) setImmediate(tick);
        else timer = setTimeout(tick, interval_ms);
        return;
      }
      writer.send({ id: `${streamId}:${counter + 1}`, event: 'test_complete', data: { message: `Sent ${count} test messages` } });
      writer.end();
    };
    let timer = setTimeout(tick, 0);
    res.on('close', () => clearTimeout(timer));
  }
}
