import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { toChatView } from '../../chats/chat-view.js';
import type { MessageEntity } from '../../chats/message.entity.js';
import { MessagesRepository } from '../../chats/messages.repository.js';
import { APP_CONFIG } from '../../common/core.module.js';
import { isUniqueViolation } from '../../common/db-errors.js';
import { AppException } from '../../common/errors/app.exception.js';
import { ErrorCode } from '../../common/errors/error-code.js';
import { DomainEvents } from '../../common/events/domain-events.js';
import { ownerKey, type Identity } from '../../common/identity.js';
import type { AppConfig } from '../../config/app-config.js';
import { Sql, unwrap } from '../../database/sql.js';
import { LlmService } from '../../llm/llm.service.js';
import { AnswerScopes } from '../../documents/retrieval/answer-scope.js';
import { RetrievalService } from '../../documents/retrieval/retrieval.service.js';
import { UsageService } from '../../usage/usage.service.js';
import { GenerationRegistry, type GenerationHandle } from './generation-registry.js';
import { GenerationRunner } from './generation-runner.js';
import { ResumeGeneration } from './resume-generation.use-case.js';
import { concurrencyLimit, hashRequest, historyFrom, maxTokensFor, titleFrom } from './turn-rules.js';

export interface SendCommand {
  identity: Identity;
  ip?: string;
  chatId?: string;
  // Instead of chatId: a chat id of the client's own (the AI SDK route), mapped to one chat of
  // the identity, created by its first turn.
  clientChatId?: string;
  model?: string;
  content: string;
  temperature?: number;
  maxTokens?: number;
  clientMessageId?: string;
  // Keep generating when the client goes away, so that it can resume later.
  keepGenerating?: boolean;
  // A new chat's project, and whether to search documents (default true).
  projectId?: string;
  useDocuments?: boolean;
  // The socket that sent it, over Socket.IO: it gets the frames with the chat's room.
  socketId?: string;
  // performance.now() when the request arrived (time to first delta is measured from it).
  receivedAt?: number;
}

// This request repeats an earlier one's client_message_id: it joins that generation.
class Retry extends Error {}

// Send: store the turn (the chat when new, the user message, the assistant placeholder, the
// quota or credit hold) and read the history in one transaction, then run the model.
@Injectable()
export class SendMessage {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sql: Sql,
    private readonly messages: MessagesRepository,
    private readonly llm: LlmService,
    private readonly usage: UsageService,
    private readonly registry: GenerationRegistry,
    private readonly runner: GenerationRunner,
    private readonly resume: ResumeGeneration,
    private readonly events: DomainEvents,
    private readonly scopes: AnswerScopes,
    private readonly retrieval: RetrievalService,
  ) {}

  async execute(cmd: SendCommand): Promise<GenerationHandle> {
    const model = this.llm.resolveModel(cmd.model);
    const maxTokens = maxTokensFor(model, cmd.maxTokens, this.config.defaultMaxTokens);
    if (cmd.content.length > this.config.maxContentChars) {
      throw new AppException(ErrorCode.VALIDATION_ERROR, `content must be at most ${this.config.maxContentChars} characters`);
    }
    const owner = ownerKey(cmd.identity);
    // Only a keyed request can be retried, so only its body is compared with a retry's.
    const requestHash = cmd.clientMessageId ? hashRequest(cmd.clientChatId ? { ...cmd, chatId: `client:${cmd.clientChatId}` } : cmd) : null;
    const userMessageId = randomUUID();
    const assistantId = randomUUID();
    const inputEstimate = this.llm.estimateTokens(cmd.content) + (cmd.chatId || cmd.clientChatId ? this.config.historyTokenBudget / 4 : 0);

    let admission;
    try {
      admission = this.registry.admit();
    } catch (refusal) {
      // Full or draining: a retry of an earlier request still joins it (nothing new would run).
      const earlier = cmd.clientMessageId ? await this.messages.findByClientMessageId(owner, cmd.clientMessageId) : null;
      if (earlier) return this.joinEarlier(cmd, owner, requestHash!, earlier);
      throw refusal;
    }
    try {
      const { value: turn, committed } = await this.sql.decideThenCommit(async (tx) => {
        // Written together, answered together: one round trip for all three.
        const reserving = this.usage.reserveIn(tx, { identity: cmd.identity, ip: cmd.ip, model, inputTokens: Math.ceil(inputEstimate), maxTokens, messageKey: assistantId });
        // After reserveIn: it runs under the admission lock reserveIn takes, so its count of running
        // answers cannot race another send of this identity.
        const inserting = this.messages.insertTurn(tx, {
          owner: cmd.identity,
          ownerKey: owner,
          chatId: cmd.chatId,
          clientChatId: cmd.clientChatId,
          title: titleFrom(cmd.content),
          user: { id: userMessageId, content: cmd.content, clientMessageId: cmd.clientMessageId ?? null, requestHash },
          assistant: { id: assistantId, model: model.id },
        });
        const reading =
          cmd.chatId || cmd.clientChatId
            ? this.messages.conversation(tx, userMessageId)
            : Promise.resolve([{ role: 'user' as const, content: cmd.content }]);
        // The new chat's project, and where the answer searches (nothing: no statement at all).
        const scoping = this.scopes.resolveIn(tx, { identity: cmd.identity, userMessageId, newChatProjectId: cmd.chatId ? undefined : cmd.projectId, useDocuments: cmd.useDocuments });
        const [insertedResult, reservedResult, readResult, scopeResult] = await Promise.allSettled([inserting, reserving, reading, scoping]);

        // A retry replays the earlier request whatever the quota says now.
        const inserted = unwrap(insertedResult);
        if (inserted.kind === 'duplicate') throw new Retry();
        if (inserted.kind === 'chat_not_found') throw new AppException(ErrorCode.CHAT_NOT_FOUND, 'Chat not found');
        const scope = unwrap(scopeResult);
        const reserved = unwrap(reservedResult);
        if (reserved.refused) {
          const refusal = await reserved.refused();
          this.events.emit('quota.refused', { owner: cmd.identity, error: refusal });
          throw refusal;
        }
        if (inserted.running >= this.config.maxConcurrentGenerations) throw concurrencyLimit(this.config.maxConcurrentGenerations);
        const stored = unwrap(readResult);
        return { ...inserted, scope, reservation: reserved.reservation, history: historyFrom(stored, this.config.historyTokenBudget) };
      });

      return await this.runner.start(
        {
          identity: cmd.identity,
          ip: cmd.ip,
          chatId: turn.chat.id,
          userMessageId,
          assistantId,
          model,
          maxTokens,
          temperature: cmd.temperature,
          reservation: turn.reservation,
          inputEstimate,
          history: turn.history,
          sources: turn.scope ? this.retrieval.forAnswer(turn.scope, cmd.content) : undefined,
          keepGenerating: cmd.keepGenerating ?? false,
          audience: cmd.socketId ? [cmd.socketId] : [],
          receivedAt: cmd.receivedAt ?? performance.now(),
          committed,
          // A new chat is told to the owner's tabs once it is stored, before its first frame.
          onStored: turn.chatCreated ? () => this.events.emit('chat.created', { owner: cmd.identity, chat: toChatView({ ...turn.chat, projectId: cmd.projectId ?? null }) }) : undefined,
        },
        admission,
      );
    } catch (error) {
      admission.release();
      // Two retries with one key raced: the loser's insert found the winner's row.
      if (error instanceof Retry || (cmd.clientMessageId && isUniqueViolation(error, 'messages_owner_client_id_key'))) {
        return this.joinEarlier(cmd, owner, requestHash!);
      }
      throw error;
    }
  }

  private async joinEarlier(cmd: SendCommand, owner: string, requestHash: string, found?: MessageEntity): Promise<GenerationHandle> {
    const earlier = found ?? (await this.messages.findByClientMessageId(owner, cmd.clientMessageId!));
    if (!earlier) throw new AppException(ErrorCode.INTERNAL_ERROR, 'The earlier request could not be found');
    if (earlier.requestHash !== requestHash) {
      throw new AppException(ErrorCode.IDEMPOTENCY_CONFLICT, 'client_message_id was already used with a different request');
    }
    const answer = await this.messages.findLatestAnswer(earlier.id);
    if (!answer) throw new AppException(ErrorCode.INTERNAL_ERROR, 'The earlier request has no answer');
    return this.resume.handleFor(cmd.identity, answer, { holds: true, keepGenerating: cmd.keepGenerating });
  }
}
