import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../common/core.module.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { DomainEvents } from '../common/events/domain-events.js';
import type { Identity } from '../common/identity.js';
import { validateDto } from '../common/validation.js';
import type { AppConfig, DocumentQuota } from '../config/app-config.js';
import { projectNotFound, ProjectsService } from '../projects/projects.service.js';
import { toDocumentView, type DocumentView } from './document-view.js';
import { DocumentsRepository, type DocumentUsage } from './documents.repository.js';
import { UploadDocumentFields } from './dto/document.dto.js';
import { detectDocumentType } from './extraction/detect-type.js';
import { DocumentIngestion } from './ingestion/document-ingestion.js';
import { VECTOR_STORE, type VectorStore } from './retrieval/vector-store.js';
import type { Upload } from './upload/multipart-upload.js';

// Documents for every transport. A foreign document (or project) is answered exactly like an
// unknown one.
@Injectable()
export class DocumentsService {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly projects: ProjectsService,
    private readonly ingestion: DocumentIngestion,
    private readonly events: DomainEvents,
    @Inject(VECTOR_STORE) private readonly vectors: VectorStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  // What this identity may keep (stricter for visitors).
  quotaOf(owner: Identity): DocumentQuota {
    return owner.kind === 'user' ? this.config.documentQuota.user : this.config.documentQuota.anonymous;
  }

  // Before an upload's body is read: refused when the identity has no room for a file of at
  // least `minBytes` (its declared length less the framing), so that a full quota costs no upload.
  async checkRoom(owner: Identity, minBytes: number): Promise<void> {
    const quota = this.quotaOf(owner);
    const used = await this.documents.usage(owner);
    if (used.documents >= quota.documents || used.bytes + Math.max(1, minBytes) > quota.bytes) throw overQuota(owner, quota, used);
  }

  // Checks what the upload is by its bytes, stores it "processing" (within the identity's quota,
  // checked again with the real size) and hands it to the ingestion workers; the client hears of
  // the rest through document_status.
  async accept(owner: Identity, upload: Upload): Promise<{ document: DocumentView }> {
    const fields = validateDto(UploadDocumentFields, upload.fields);
    const detected = detectDocumentType(upload.bytes, upload.filename);
    if (!detected.supported) {
      throw new AppException(ErrorCode.UNSUPPORTED_DOCUMENT, `${detected.reason}: upload a PDF, plain text, Markdown or HTML file`);
    }
    const quota = this.quotaOf(owner);
    const result = await this.documents.insert(
      {
        owner,
        projectId: fields.project_id ?? null,
        filename: upload.filename,
        mediaType: detected.mediaType,
        bytes: upload.bytes.length,
        content: upload.bytes,
      },
      quota,
    );
    if (result.kind === 'project_not_found') throw projectNotFound();
    if (result.kind === 'over_quota') throw overQuota(owner, quota, result.used);
    const document = toDocumentView(result.row);
    this.events.emit('document.status', { owner, status: { document_id: document.id, project_id: document.project_id, status: 'processing', progress: 0, filename: document.filename } });
    if (document.project_id) this.events.emit('project.updated', { update: { project_id: document.project_id, type: 'document_added', data: { document } } });
    this.ingestion.kick();
    return { document };
  }

  async list(owner: Identity, projectId?: string): Promise<{ documents: DocumentView[] }> {
    if (projectId) await this.projects.require(owner, projectId);
    return { documents: (await this.documents.listOwned(owner, projectId)).map(toDocumentView) };
  }

  // Its passages go with it: no answer finds it again. The project's room is told.
  async delete(owner: Identity, documentId: string): Promise<void> {
    const deleted = await this.documents.deleteOwned(documentId, owner);
    if (!deleted) throw new AppException(ErrorCode.DOCUMENT_NOT_FOUND, 'Document not found');
    await this.vectors.removeDocument(documentId);
    if (deleted.projectId) this.events.emit('project.updated', { update: { project_id: deleted.projectId, type: 'document_deleted', data: { document_id: documentId } } });
  }
}

// The identity keeps too much already. PAYLOAD_TOO_LARGE, as for a file over MAX_DOCUMENT_BYTES:
// the upload is over a size limit (here the identity's), retrying it will not help, and
// deleting documents (or, for a visitor, signing up) will. RATE_LIMITED would tell the client
// to wait, which frees nothing.
function overQuota(owner: Identity, quota: DocumentQuota, used: DocumentUsage): AppException {
  const who = owner.kind === 'user' ? 'USER' : 'ANON';
  const message =
    used.documents >= quota.documents
      ? `At most ${quota.documents} documents can be kept (${who}_DOCUMENT_LIMIT); delete some to upload more`
      : `At most ${quota.bytes} bytes of documents can be kept (${who}_DOCUMENT_BYTES_LIMIT); delete some to upload more`;
  return new AppException(ErrorCode.PAYLOAD_TOO_LARGE, message, {
    max_documents: quota.documents,
    max_total_bytes: quota.bytes,
    documents: used.documents,
    total_bytes: used.bytes,
  });
}
