import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, APP_LOGGER } from '../../common/core.module.js';
import { DomainEvents } from '../../common/events/domain-events.js';
import type { AppLogger } from '../../common/logging/logger.js';
import type { AppConfig } from '../../config/app-config.js';
import { EMBEDDING_BATCH, EmbeddingsService } from '../../llm/embeddings.service.js';
import type { DocumentStatusEvent } from '../document-view.js';
import { DocumentsRepository, type ClaimedDocument, type DocumentAudience } from '../documents.repository.js';
import type { TextBlock } from '../extraction/blocks.js';
import { chunkBlocksCooperatively, DEFAULT_CHUNKING, type Passage } from '../extraction/chunker.js';
import { DocumentUnreadable } from '../extraction/document-unreadable.js';
import { extractBlocks, kindOfMediaType } from '../extraction/extract-text.js';
import { extractionLimits } from '../extraction/limits.js';
import { searchConfigFor } from '../extraction/search-config.js';
import { PassagesRepository } from '../passages.repository.js';
import { VECTOR_STORE, type VectorStore } from '../retrieval/vector-store.js';

// How long a claim holds without news from its worker; the worker renews it far more often.
export const LEASE_SECONDS = 60;
const HEARTBEAT_MS = 15_000;
// How often each instance looks for work nobody holds (a dead process's, a missed kick).
export const SWEEP_MS = 5_000;
// Claims of one document before it is given up (a document that kills its worker every time).
export const MAX_ATTEMPTS = 3;
// Passages written (and embedded) per statement.
const BATCH = EMBEDDING_BATCH;
// Progress pushes: at most one per this many milliseconds, or per this many points.
const PUSH_EVERY_MS = 500;
const PUSH_EVERY_POINTS = 10;

class ClaimLost extends Error {}

// The ingestion workers: they read, split and index uploaded documents off the request path,
// DOCUMENT_WORKERS at a time per instance. Work is claimed from the database (a lease, taken
// with FOR UPDATE SKIP LOCKED), so any instance may take any document, two never take the same
// one, and a document whose worker died is taken again once its lease has run out.
@Injectable()
export class DocumentIngestion implements OnApplicationBootstrap, OnModuleDestroy {
  private active = 0;
  private kicked = false;
  private stopping = false;
  private sweep?: NodeJS.Timeout;
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    private readonly documents: DocumentsRepository,
    private readonly passages: PassagesRepository,
    private readonly embeddings: EmbeddingsService,
    @Inject(VECTOR_STORE) private readonly vectors: VectorStore,
    private readonly events: DomainEvents,
  ) {}

  onApplicationBootstrap(): void {
    this.sweep = setInterval(() => this.kick(), SWEEP_MS);
    this.sweep.unref();
    // What a previous process left half done is taken up at once.
    this.kick();
  }

  // Stops taking work; what runs is interrupted and let go for another instance (or the next
  // start) to take at once. The database is still open here.
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweep);
    for (const { abort } of this.running.values()) abort.abort(new Error('shutting down'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  // There may be work: idle workers look for it.
  kick(): void {
    if (this.stopping) return;
    this.kicked = true;
    while (this.active < this.config.documentWorkers) {
      this.active++;
      void this.work().finally(() => this.active--);
    }
  }

  private async work(): Promise<void> {
    try {
      while (!this.stopping) {
        this.kicked = false;
        const claimId = randomUUID();
        const doc = await this.documents.claimNext(claimId, LEASE_SECONDS);
        if (!doc) {
          // A kick that came while the queue was being read may be for a newer document.
          if (this.kicked) continue;
          return;
        }
        const abort = new AbortController();
        const done = this.process(doc, abort.signal);
        this.running.set(doc.id, { abort, done });
        await done.finally(() => this.running.delete(doc.id));
      }
    } catch (error) {
      // The database is unreachable: the sweep tries again.
      this.logger.warn({ err: error }, 'document ingestion could not claim work');
    }
  }

  private async process(doc: ClaimedDocument, signal: AbortSignal): Promise<void> {
    const log = this.logger.child({ document_id: doc.id });
    const progress = new ProgressReporter(doc, (p) => this.documents.progress(doc.id, doc.claimId, p, LEASE_SECONDS), (audience, status) => this.push(audience, status));
    const heartbeat = setInterval(() => void progress.renew().catch(() => undefined), HEARTBEAT_MS);
    heartbeat.unref();
    const started = performance.now();
    try {
      if (doc.attempts > MAX_ATTEMPTS) throw new DocumentUnreadable(`The document could not be processed in ${MAX_ATTEMPTS} attempts`);
      const kind = kindOfMediaType(doc.mediaType);
      if (!kind) throw new DocumentUnreadable(`Documents of type ${doc.mediaType} cannot be read`);
      await progress.report(5, true);

      // Reading: 5 → 30 (page by page for a PDF).
      const limits = extractionLimits(this.config.extraction, doc.content.length);
      const blocks = await extractBlocks(kind, doc.content, { limits, signal, onPage: (done, total) => progress.report(5 + (25 * done) / total) });
      const searchConfig = searchConfigFor(sample(blocks, 50_000));
      const passages = await chunkBlocksCooperatively(blocks, { ...DEFAULT_CHUNKING, maxPassages: limits.maxPassages }, signal);
      if (passages.length === 0) throw new DocumentUnreadable('The document holds no text to read');
      await progress.report(35, true);

      // Indexing (and embedding): 35 → 95, batch by batch.
      await this.passages.clear(doc.id, doc.claimId);
      for (let start = 0; start < passages.length; start += BATCH) {
        if (signal.aborted) throw signal.reason;
        const batch = passages.slice(start, start + BATCH);
        const ids = await this.passages.insert(doc.id, doc.claimId, searchConfig, batch);
        if (!ids) throw new ClaimLost();
        if (this.embeddings.enabled) await this.embed(batch, ids, signal);
        await progress.report(35 + (60 * (start + batch.length)) / passages.length);
      }

      const audience = await this.documents.markReady(doc.id, doc.claimId, passages.length, searchConfig);
      if (!audience) throw new ClaimLost();
      this.push(audience, { document_id: doc.id, project_id: audience.projectId, status: 'ready', progress: 100, chunk_count: passages.length, filename: doc.filename });
      log.info({ passages: passages.length, search_config: searchConfig, embedded: this.embeddings.enabled, ms: Math.round(performance.now() - started) }, 'document ready');
    } catch (error) {
      await this.failed(doc, error, signal, log);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async embed(batch: Passage[], ids: string[], signal: AbortSignal): Promise<void> {
    const vectors = await this.embeddings.embed(batch.map((p) => (p.heading ? `${p.heading}\n\n${p.content}` : p.content)), { signal });
    await this.vectors.upsert(ids.map((passageId, i) => ({ passageId, vector: vectors[i] })));
  }

  private async failed(doc: ClaimedDocument, error: unknown, signal: AbortSignal, log: AppLogger): Promise<void> {
    if (error instanceof ClaimLost) {
      log.info('document claim lost (deleted, or taken over after its lease ran out)');
      return;
    }
    try {
      if (signal.aborted) {
        // Shutting down: another instance, or the next start, takes it at once.
        await this.documents.release(doc.id, doc.claimId, 0);
        return;
      }
      if (error instanceof DocumentUnreadable || doc.attempts >= MAX_ATTEMPTS) {
        const reason = error instanceof DocumentUnreadable ? error.message : 'The document could not be processed; try uploading it again';
        if (!(error instanceof DocumentUnreadable)) log.error({ err: error }, 'document failed after its last attempt');
        const audience = await this.documents.markFailed(doc.id, doc.claimId, reason);
        if (audience) this.push(audience, { document_id: doc.id, project_id: audience.projectId, status: 'failed', progress: 0, error: reason, filename: doc.filename });
        return;
      }
      // Transient (the database, the embeddings server): again later, backing off.
      const retryIn = 5 * 2 ** (doc.attempts - 1);
      log.warn({ err: error, attempt: doc.attempts, retry_in_s: retryIn }, 'document processing failed; it will be tried again');
      await this.documents.release(doc.id, doc.claimId, retryIn);
    } catch (storeError) {
      // Its lease runs out and the sweep takes it again.
      log.error({ err: storeError }, 'could not record a document failure');
    }
  }

  private push(audience: DocumentAudience, status: DocumentStatusEvent): void {
    this.events.emit('document.status', { owner: audience.owner, status });
  }
}

// The document's first `chars` characters (for guessing its language), without joining it all.
function sample(blocks: TextBlock[], chars: number): string {
  const parts: string[] = [];
  let length = 0;
  for (const block of blocks) {
    if (length >= chars) break;
    parts.push(block.text);
    length += block.text.length + 1;
  }
  return parts.join('\n').slice(0, chars);
}

// Progress as pushes (throttled) and as database writes that also renew the claim.
class ProgressReporter {
  private pushedAt = 0;
  private pushed = -1;

  constructor(
    private readonly doc: ClaimedDocument,
    private readonly write: (progress: number) => Promise<DocumentAudience | null>,
    private readonly push: (audience: DocumentAudience, status: DocumentStatusEvent) => void,
  ) {}

  async report(value: number, force = false): Promise<void> {
    const progress = Math.min(99, Math.floor(value));
    const now = performance.now();
    if (!force && progress - this.pushed < PUSH_EVERY_POINTS && now - this.pushedAt < PUSH_EVERY_MS) return;
    if (!force && progress === this.pushed) return;
    const audience = await this.write(progress);
    if (!audience) throw new ClaimLost();
    this.pushed = progress;
    this.pushedAt = now;
    this.push(audience, { document_id: this.doc.id, project_id: audience.projectId, status: 'processing', progress });
  }

  // Keeps the lease while a long step runs.
  async renew(): Promise<void> {
    await this.write(Math.max(0, this.pushed));
  }
}
