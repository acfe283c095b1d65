import { Inject, Injectable } from '@nestjs/common';
import OpenAI from 'openai';
import { APP_CONFIG, APP_LOGGER } from '../common/core.module.js';
import type { AppLogger } from '../common/logging/logger.js';
import type { AppConfig } from '../config/app-config.js';
import { openAiFailure } from './openai.provider.js';
import { sdkLogger } from './sdk-logger.js';

// Texts per embeddings request.
export const EMBEDDING_BATCH = 64;
// The longest text sent to be embedded (models take a few thousand tokens at most).
const MAX_INPUT_CHARS = 8000;

// Vectors from an OpenAI-compatible server's /v1/embeddings (OpenAI, Ollama, vLLM,
// llama.cpp), for EMBEDDINGS_MODEL. Every vector is returned at unit length, so that cosine
// similarity is a dot product wherever they are compared.
@Injectable()
export class EmbeddingsService {
  private readonly client?: OpenAI;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig, @Inject(APP_LOGGER) logger: AppLogger) {
    if (!config.embeddingsModel) return;
    this.client = new OpenAI({
      apiKey: config.openai.apiKey ?? 'no-key',
      organization: null,
      project: null,
      baseURL: config.openai.baseUrl ?? 'https://api.openai.com/v1',
      maxRetries: 2,
      timeout: 60_000,
      logLevel: 'warn',
      logger: sdkLogger(logger.child({ provider: 'openai-embeddings' })),
    });
  }

  get enabled(): boolean {
    return this.client !== undefined;
  }

  // One vector per text, in order. Throws a ProviderFailure when the server fails.
  async embed(texts: string[], options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<number[][]> {
    if (!this.client) throw new Error('EMBEDDINGS_MODEL is not set');
    const vectors: number[][] = [];
    for (let start = 0; start < texts.length; start += EMBEDDING_BATCH) {
      const input = texts.slice(start, start + EMBEDDING_BATCH).map((t) => t.slice(0, MAX_INPUT_CHARS));
      let response: OpenAI.Embeddings.CreateEmbeddingResponse;
      try {
        // Floats, not the SDK's default base64: the one encoding every compatible server speaks.
        response = await this.client.embeddings.create(
          { model: this.config.embeddingsModel!, input, encoding_format: 'float' },
          { signal: options.signal, ...(options.timeoutMs ? { timeout: options.timeoutMs, maxRetries: 0 } : {}) },
        );
      } catch (error) {
        throw openAiFailure(error);
      }
      const ordered = [...response.data].sort((a, b) => a.index - b.index);
      if (ordered.length !== input.length) throw openAiFailure(new Error(`the embeddings server answered ${ordered.length} vectors for ${input.length} texts`));
      for (const item of ordered) vectors.push(unit(Array.from(item.embedding as ArrayLike<number>)));
    }
    return vectors;
  }
}

export function unit(vector: number[]): number[] {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  return norm === 0 || !Number.isFinite(norm) ? vector.map(() => 0) : vector.map((x) => x / norm);
}
