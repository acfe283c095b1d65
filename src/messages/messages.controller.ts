import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Identity } from '../common/identity.js';
import { CurrentIdentity, IdentityGuard } from '../auth/identity.guard.js';
import { APP_CONFIG } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { ClientAddress } from '../usage/client-address.js';
import { RateLimitGuard } from '../usage/rate-limit.guard.js';
import { SseWriter } from '../common/sse/sse-writer.js';
import type { AppConfig } from '../config/app-config.js';
import { ApiEventStream, ApiIdentity, ApiLastEventId, ApiRefusals, IDENTITY_REFUSALS, omitEvents } from '../openapi/api-docs.js';
import { MessageIdParam, RegenerateDto, SendMessageDto, sendCommandFrom, StopResponse, TestSseComplete, TestSseMessage, TestSseQuery } from './dto/send-message.dto.js';
import { followGeneration } from './follow-generation.js';
import { parseEventId } from './generation/generation-log.js';
import type { GenerationHandle } from './generation/generation-registry.js';
import { RegenerateMessage } from './generation/regenerate-message.use-case.js';
import { ResumeGeneration } from './generation/resume-generation.use-case.js';
import { SendMessage } from './generation/send-message.use-case.js';
import { StopGeneration } from './generation/stop-generation.use-case.js';
import { GENERATION_EVENTS } from './stream-events.js';

// What each stream can carry, for its description.
const SEND_EVENTS = omitEvents(GENERATION_EVENTS, 'assistant_regenerating', 'assistant_regenerated');
const REGENERATE_EVENTS = omitEvents(GENERATION_EVENTS, 'assistant_complete');
const TEST_SSE_EVENTS = { test_message: TestSseMessage, test_complete: TestSseComplete };
// Refusals before a generation starts (with IDENTITY_REFUSALS): its status and one assistant_error frame.
const GENERATION_REFUSALS = [
  ...IDENTITY_REFUSALS,
  ErrorCode.VALIDATION_ERROR,
  ErrorCode.UNKNOWN_MODEL,
  ErrorCode.INSUFFICIENT_BALANCE,
  ErrorCode.CHAT_NOT_FOUND,
  ErrorCode.ANON_LIMIT_REACHED,
  ErrorCode.RATE_LIMITED,
  ErrorCode.CONCURRENCY_LIMIT,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.SERVER_BUSY,
];

// The SSE transport: it turns HTTP requests into engine commands and writes the engine's events
// as frames. No model or billing logic lives here.
@ApiTags('messages')
@Controller('api/v1/messages')
export class MessagesController {
  constructor(
    private readonly sendMessage: SendMessage,
    private readonly regenerateMessage: RegenerateMessage,
    private readonly stopGeneration: StopGeneration,
    private readonly resumeGeneration: ResumeGeneration,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('send')
  @UseGuards(IdentityGuard, RateLimitGuard)
  @ApiOperation({ summary: 'Send a message and stream the answer' })
  @ApiIdentity()
  @ApiEventStream('The answer as it is generated; assistant_complete (or assistant_error) then usage_info end it.', SEND_EVENTS)
  @ApiRefusals('event-stream', ...GENERATION_REFUSALS, ErrorCode.IDEMPOTENCY_CONFLICT)
  async send(@Body() dto: SendMessageDto, @CurrentIdentity() identity: Identity, @Req() req: Request, @Res() res: Response) {
    await this.stream(res, 0, () => this.sendMessage.execute({ ...sendCommandFrom(dto, identity, ClientAddress.fromRequest(req)), receivedAt: req.receivedAt }));
  }

  @Post('regenerate')
  @UseGuards(IdentityGuard, RateLimitGuard)
  @ApiOperation({ summary: "Answer the chat's last user message again (the replaced answer stays, superseded)" })
  @ApiIdentity()
  @ApiEventStream('assistant_regenerating first, assistant_regenerated (or assistant_error) then usage_info at the end.', REGENERATE_EVENTS)
  @ApiRefusals('event-stream', ...GENERATION_REFUSALS, ErrorCode.MESSAGE_NOT_FOUND)
  async regenerate(@Body() dto: RegenerateDto, @CurrentIdentity() identity: Identity, @Req() req: Request, @Res() res: Response) {
    await this.stream(res, 0, () =>
      this.regenerateMessage.execute({
        identity,
        ip: ClientAddress.fromRequest(req),
        chatId: dto.chat_id,
        messageId: dto.message_id,
        model: dto.model,
        temperature: dto.temperature,
        maxTokens: dto.max_tokens,
        keepGenerating: dto.keep_generating,
        useDocuments: dto.use_documents,
        receivedAt: req.receivedAt,
      }),
    );
  }

  @Post(':message_id/stop')
  @HttpCode(202)
  @UseGuards(IdentityGuard, RateLimitGuard)
  @ApiOperation({ summary: 'Stop an answer being generated, on whichever instance runs it' })
  @ApiIdentity()
  @ApiAcceptedResponse({ type: StopResponse })
  @ApiRefusals('json', ...IDENTITY_REFUSALS, ErrorCode.VALIDATION_ERROR, ErrorCode.MESSAGE_NOT_FOUND, ErrorCode.RATE_LIMITED)
  stop(@Param() params: MessageIdParam, @CurrentIdentity() identity: Identity): Promise<StopResponse> {
    return this.stopGeneration.execute(identity, params.message_id);
  }

  // Resume: the frames after Last-Event-ID, then live ones until the end.
  @Get(':message_id/stream')
  @UseGuards(IdentityGuard, RateLimitGuard)
  @ApiOperation({ summary: 'Resume an answer: the frames after Last-Event-ID, then live ones until its end' })
  @ApiIdentity()
  @ApiLastEventId()
  @ApiEventStream('The same frames as the stream that started it, numbered the same.', GENERATION_EVENTS)
  @ApiRefusals('event-stream', ...IDENTITY_REFUSALS, ErrorCode.VALIDATION_ERROR, ErrorCode.MESSAGE_NOT_FOUND, ErrorCode.RATE_LIMITED)
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
    await this.stream(res, afterSeq, () => this.resumeGeneration.execute(identity, params.message_id));
  }

  @Get('test-sse')
  @UseGuards(RateLimitGuard)
  @ApiOperation({ summary: 'A deployment check: test_message frames, then test_complete (no identity, no model)' })
  @ApiEventStream('`count` frames `interval_ms` apart.', TEST_SSE_EVENTS)
  @ApiRefusals('event-stream', ErrorCode.VALIDATION_ERROR, ErrorCode.RATE_LIMITED)
  testSseGet(@Query() query: TestSseQuery, @Res() res: Response) {
    this.testSse(query, res);
  }

  @Post('test-sse')
  @UseGuards(RateLimitGuard)
  @ApiOperation({ summary: 'The same as GET test-sse' })
  @ApiEventStream('`count` frames `interval_ms` apart.', TEST_SSE_EVENTS)
  @ApiRefusals('event-stream', ErrorCode.VALIDATION_ERROR, ErrorCode.RATE_LIMITED)
  testSsePost(@Query() query: TestSseQuery, @Res() res: Response) {
    this.testSse(query, res);
  }

  // A client that stops reading is let go once its buffer is full, like one that left.
  private stream(res: Response, afterSeq: number, open: () => Promise<GenerationHandle>): Promise<void> {
    return followGeneration(res, afterSeq, open, (_handle, leave) => new SseWriter(res, { pingMs: this.config.ssePingIntervalMs, maxBufferBytes: this.config.sseMaxBufferBytes, onOverflow: leave }));
  }

  // A deployment check that needs no identity and touches no model: `curl -N .../test-sse`.
  private testSse({ count, interval_ms }: TestSseQuery, res: Response): void {
    const writer = new SseWriter(res, { pingMs: this.config.ssePingIntervalMs, maxBufferBytes: this.config.sseMaxBufferBytes });
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
