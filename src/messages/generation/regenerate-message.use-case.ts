import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { MessagesRepository } from '../../chats/messages.repository.js';
import { APP_CONFIG } from '../../common/core.module.js';
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
import { concurrencyLimit, historyFrom, maxTokensFor } from './turn-rules.js';

export interface RegenerateCommand {
  identity: Identity;
  ip?: string;
  chatId: string;
  messageId?: string;
  model?: string;
  temperature?: number;
  maxTokens?: number;
  keepGenerating?: boolean;
  // Default true: search the documents again.
  useDocuments?: boolean;
  socketId?: string;
  // performance.now() when the request arrived (time to first delta is measured from it).
  receivedAt?: number;
}

// Regenerate: answer the chat's last user message again. The replaced answer stays in history,
// marked superseded, in the same transaction that stores the new one and its hold.
@Injectable()
export class RegenerateMessage {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly sql: Sql,
    private readonly messages: MessagesRepository,
    private readonly llm: LlmService,
    private readonly usage: UsageService,
    private readonly registry: GenerationRegistry,
    private readonly runner: GenerationRunner,
    private readonly events: DomainEvents,
    private readonly scopes: AnswerScopes,
    private readonly retrieval: RetrievalService,
  ) {}

  async execute(cmd: RegenerateCommand): Promise<GenerationHandle> {
    const target = await this.messages.findAnswerTarget(this.sql, cmd.chatId, cmd.identity);
    if (!target) throw new AppException(ErrorCode.CHAT_NOT_FOUND, 'Chat not found');
    const { userMessage, current } = target;
    if (!userMessage) throw new AppException(ErrorCode.MESSAGE_NOT_FOUND, 'This chat has no message to answer again');
    if (cmd.messageId && cmd.messageId !== current?.id && cmd.messageId !== userMessage.id) {
      throw new AppException(ErrorCode.MESSAGE_NOT_FOUND, 'Only the last answer of a chat can be regenerated');
    }
    if (current?.status === 'streaming') throw stillStreaming();
    const previousModel = current?.model && this.llm.listModels().some((m) => m.id === current.model) ? current.model : undefined;
    const model = this.llm.resolveModel(cmd.model ?? previousModel);
    const maxTokens = maxTokensFor(model, cmd.maxTokens, this.config.defaultMaxTokens);
    const assistantId = randomUUID();
    const inputEstimate = this.llm.estimateTokens(userMessage.content) + this.config.historyTokenBudget / 4;

    const admission = this.registry.admit();
    try {
      const { value: turn, committed } = await this.sql.decideThenCommit(async (tx) => {
        const reserving = this.usage.reserveIn(tx, { identity: cmd.identity, ip: cmd.ip, model, inputTokens: Math.ceil(inputEstimate), maxTokens, messageKey: assistantId });
        // After reserveIn, under its admission lock (see SendMessage).
        const inserting = this.messages.insertAnswer(tx, {
          owner: cmd.identity,
          ownerKey: ownerKey(cmd.identity),
          chatId: cmd.chatId,
          replyToId: userMessage.id,
          assistant: { id: assistantId, model: model.id },
        });
        const reading = this.messages.conversation(tx, userMessage.id);
        const scoping = this.scopes.resolveIn(tx, { identity: cmd.identity, userMessageId: userMessage.id, useDocuments: cmd.useDocuments });
        const [insertedResult, reservedResult, readResult, scopeResult] = await Promise.allSettled([inserting, reserving, reading, scoping]);

        const inserted = unwrap(insertedResult);
        if (!inserted.chatFound) throw new AppException(ErrorCode.CHAT_NOT_FOUND, 'Chat not found');
        // Another regenerate of this message got there first.
        if (!inserted.inserted) throw stillStreaming();
        const reserved = unwrap(reservedResult);
        if (reserved.refused) {
          const refusal = await reserved.refused();
          this.events.emit('quota.refused', { owner: cmd.identity, error: refusal });
          throw refusal;
        }
        if (inserted.running >= this.config.maxConcurrentGenerations) throw concurrencyLimit(this.config.maxConcurrentGenerations);
        return { reservation: reserved.reservation, replaced: inserted.replaced, scope: unwrap(scopeResult), history: historyFrom(unwrap(readResult), this.config.historyTokenBudget) };
      });
      return await this.runner.start(
        {
          identity: cmd.identity,
          ip: cmd.ip,
          chatId: cmd.chatId,
          userMessageId: userMessage.id,
          assistantId,
          model,
          maxTokens,
          temperature: cmd.temperature,
          reservation: turn.reservation,
          inputEstimate,
          history: turn.history,
          // Searched again: the documents may have changed since.
          sources: turn.scope ? this.retrieval.forAnswer(turn.scope, userMessage.content) : undefined,
          replaces: { id: turn.replaced },
          keepGenerating: cmd.keepGenerating ?? false,
          audience: cmd.socketId ? [cmd.socketId] : [],
          receivedAt: cmd.receivedAt ?? performance.now(),
          committed,
        },
        admission,
      );
    } catch (error) {
      admission.release();
      throw error;
    }
  }
}

const stillStreaming = () => new AppException(ErrorCode.VALIDATION_ERROR, 'The last answer is still being generated; stop it first');
