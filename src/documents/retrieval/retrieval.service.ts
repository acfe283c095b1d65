import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, APP_LOGGER } from '../../common/core.module.js';
import type { AppLogger } from '../../common/logging/logger.js';
import type { AppConfig } from '../../config/app-config.js';
import { EmbeddingsService } from '../../llm/embeddings.service.js';
import type { MessageSource } from '../../messages/stream-events.js';
import { PassagesRepository } from '../passages.repository.js';
import { reciprocalRankFusion } from './rank-fusion.js';
import type { ScoredPassage, SearchScope } from './search-scope.js';
import { VECTOR_STORE, type VectorStore } from './vector-store.js';

// Each ranking is read this many times deeper than what is kept, so that fusion has overlap to work with.
const DEPTH = 4;
// How long an answer waits for the question's vector before it goes on with full text alone.
const QUESTION_EMBEDDING_TIMEOUT_MS = 5_000;

// Finds the passages an answer is given: full-text search always; with EMBEDDINGS_MODEL, also
// the nearest passages to the question's vector, the two rankings fused.
@Injectable()
export class RetrievalService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    private readonly passages: PassagesRepository,
    private readonly embeddings: EmbeddingsService,
    @Inject(VECTOR_STORE) private readonly vectors: VectorStore,
  ) {}

  async search(scope: SearchScope, question: string, options: { limit?: number; signal?: AbortSignal } = {}): Promise<MessageSource[]> {
    const limit = options.limit ?? this.config.retrievalTopK;
    const [fullText, nearest] = await Promise.all([this.passages.search(scope, question, limit * DEPTH), this.nearest(scope, question, limit * DEPTH, options.signal)]);
    const ranked = nearest ? reciprocalRankFusion([fullText, nearest], limit) : fullText.slice(0, limit);
    return ranked.map(toSource);
  }

  // For an answer: never throws. Null when the search failed (the answer goes on without).
  async forAnswer(scope: SearchScope, question: string, signal?: AbortSignal): Promise<MessageSource[] | null> {
    try {
      return await this.search(scope, question, { signal });
    } catch (error) {
      if (!signal?.aborted) this.logger.warn({ err: error }, 'document search failed; answering without sources');
      return null;
    }
  }

  // Null without embeddings, or when the question could not be embedded (full text alone then).
  private async nearest(scope: SearchScope, question: string, limit: number, signal?: AbortSignal): Promise<ScoredPassage[] | null> {
    if (!this.embeddings.enabled) return null;
    let vector: number[];
    try {
      [vector] = await this.embeddings.embed([question], { signal, timeoutMs: QUESTION_EMBEDDING_TIMEOUT_MS });
    } catch (error) {
      if (!signal?.aborted) this.logger.warn({ err: error }, 'could not embed the question; searching full text only');
      return null;
    }
    return this.vectors.nearest(scope, vector, limit);
  }
}

function toSource(passage: ScoredPassage): MessageSource {
  return {
    id: passage.id,
    document_id: passage.documentId,
    filename: passage.filename,
    content: passage.content,
    score: Math.round(passage.score * 1e6) / 1e6,
    metadata: {
      ...(passage.page !== null ? { page: passage.page } : {}),
      ...(passage.heading !== null ? { heading: passage.heading } : {}),
      ordinal: passage.ordinal,
    },
  };
}
