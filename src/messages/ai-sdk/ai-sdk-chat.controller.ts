import { Body, Controller, Get, HttpCode, Inject, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { createHash } from 'node:crypto';
import { CurrentIdentity, IdentityGuard } from '../../auth/identity.guard.js';
import { APP_CONFIG } from '../../common/core.module.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { isUuid, type Identity } from '../../common/identity.js';
import type { AppConfig } from '../../config/app-config.js';
import { ApiIdentity, ApiRefusals, ApiUiMessageStream, IDENTITY_REFUSALS } from '../../openapi/api-docs.js';
import { ClientAddress } from '../../usage/client-address.js';
import { RateLimitGuard } from '../../usage/rate-limit.guard.js';
import { followGeneration } from '../follow-generation.js';
import type { GenerationHandle } from '../generation/generation-registry.js';
import { RegenerateMessage } from '../generation/regenerate-message.use-case.js';
import { SendMessage } from '../generation/send-message.use-case.js';
import { ChatRequestDto, ClientChatIdParam } from './chat-request.dto.js';
import { ClientChatsService } from './client-chats.service.js';
import { UI_MESSAGE_CHUNKS } from './ui-message-chunks.dto.js';
import { uiMessageStreamSink } from './ui-message-stream.js';

// The AI SDK transport: useChat's requests become the engine's send and regenerate commands,
// and the engine's frames are written as the SDK's UI message stream. Refusals before the
// stream leave through the exception filter as `<CODE>: <message>` text, which is what the
// SDK shows as the error's message.
@ApiTags('ai-sdk')
@Controller('api/v1/chat')
export class AiSdkChatController {
  constructor(
    private readonly sendMessage: SendMessage,
    private readonly regenerateMessage: RegenerateMessage,
    private readonly clientChats: ClientChatsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(200)
  @UseGuards(IdentityGuard, RateLimitGuard)
  @ApiOperation({ summary: "The AI SDK's chat route: what useChat's DefaultChatTransport sends, answered as its UI message stream" })
  @ApiIdentity()
  @ApiUiMessageStream('start (messageId: the assistant message id), start-step, text-start, text-delta…, text-end, finish-step, finish; a failure as error (errorText starts with the code).', UI_MESSAGE_CHUNKS)
  @ApiRefusals(
    'text',
    ...IDENTITY_REFUSALS,
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.UNKNOWN_MODEL,
    ErrorCode.INSUFFICIENT_BALANCE,
    ErrorCode.CHAT_NOT_FOUND,
    ErrorCode.MESSAGE_NOT_FOUND,
    ErrorCode.IDEMPOTENCY_CONFLICT,
    ErrorCode.ANON_LIMIT_REACHED,
    ErrorCode.RATE_LIMITED,
    ErrorCode.CONCURRENCY_LIMIT,
    ErrorCode.SHUTTING_DOWN,
    ErrorCode.SERVER_BUSY,
  )
  async chat(@Body() dto: ChatRequestDto, @CurrentIdentity() identity: Identity, @Req() req: Request, @Res() res: Response) {
    const ip = ClientAddress.fromRequest(req);
    const common = { identity, ip, model: dto.model, temperature: dto.temperature, maxTokens: dto.max_tokens, keepGenerating: dto.keep_generating, receivedAt: req.receivedAt };
    const messageId = dto.messageId ?? dto.message_id;
    await this.stream(res, async () => {
      if (dto.trigger === 'regenerate-message') {
        // The SDK names the answer to regenerate by the id the start chunk gave it; any other
        // id (its own, for a user message) means the last answer, the only one that can be.
        const chatId = await this.clientChats.chatId(identity, dto.id);
        return this.regenerateMessage.execute({ ...common, chatId, messageId: messageId && isUuid(messageId) ? messageId.toLowerCase() : undefined });
      }
      if (messageId) throw new AppException(ErrorCode.VALIDATION_ERROR, 'Editing a sent message is not supported: send a new message');
      const { id, content } = newestUserText(dto);
      return this.sendMessage.execute({ ...common, clientChatId: dto.id, content, clientMessageId: dto.client_message_id ?? idempotencyKey(dto.id, id) });
    });
  }

  // useChat's `resume: true`: the chat's running answer from its start, or 204.
  @Get(':id/stream')
  @UseGuards(IdentityGuard, RateLimitGuard)
  @ApiOperation({ summary: "useChat's resume: the running answer of this chat, from its start" })
  @ApiIdentity()
  @ApiUiMessageStream('The running answer from its first chunk.', UI_MESSAGE_CHUNKS)
  @ApiNoContentResponse({ description: 'No answer of this chat is running (or the chat id is unknown)' })
  @ApiRefusals('text', ...IDENTITY_REFUSALS, ErrorCode.VALIDATION_ERROR, ErrorCode.RATE_LIMITED)
  async resume(@Param() params: ClientChatIdParam, @CurrentIdentity() identity: Identity, @Res() res: Response) {
    await this.stream(res, () => this.clientChats.runningAnswer(identity, params.id));
  }

  // A client that stops reading is let go once its buffer is full, like one that left.
  private stream(res: Response, open: () => Promise<GenerationHandle | null>): Promise<void> {
    const options = { pingMs: this.config.ssePingIntervalMs, maxBufferBytes: this.config.sseMaxBufferBytes };
    return followGeneration(res, 0, open, (handle, leave) => uiMessageStreamSink(res, handle.messageId, { ...options, onOverflow: leave }));
  }
}

// The content is the newest user message's text parts; the client's copy of the rest of the
// conversation is not used (the model gets the stored history).
function newestUserText(dto: ChatRequestDto): { id: string; content: string } {
  const message = dto.messages.findLast((m) => m.role === 'user');
  if (!message) throw new AppException(ErrorCode.VALIDATION_ERROR, 'messages must hold a user message');
  const content = message.parts
    .filter((p) => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text)
    .join('\n\n');
  if (content.trim() === '') throw new AppException(ErrorCode.VALIDATION_ERROR, 'the newest user message has no text');
  return { id: message.id, content };
}

// The user message's id (the SDK's own) within its chat, as a client_message_id of 64 characters
// at most: the same message sent twice runs and bills once.
function idempotencyKey(clientChatId: string, messageId: string): string {
  return `ui:${createHash('sha256').update(`${clientChatId}\n${messageId}`).digest('base64url').slice(0, 40)}`;
}
