import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { DocumentEntity } from './document.entity.js';

// One overlapping piece of a document's text, as retrieval finds it and the model reads it.
// `search` is its full-text vector (in the document's configuration), `embedding` its unit-length
// vector when EMBEDDINGS_MODEL is set. Written and read with SQL (passages.repository.ts).
@Entity('document_passages')
@Index('document_passages_document_ordinal_key', ['documentId', 'ordinal'], { unique: true })
@Index('document_passages_search_idx', ['search'], { type: 'gin' })
export class PassageEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'document_id', type: 'uuid' })
  documentId: string;

  @ManyToOne(() => DocumentEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'document_id', foreignKeyConstraintName: 'document_passages_document_id_fkey' })
  document?: DocumentEntity;

  // Its place in the document, from 0.
  @Column({ type: 'integer' })
  ordinal: number;

  @Column({ type: 'text' })
  content: string;

  // The PDF page it comes from (1-based).
  @Column({ type: 'integer', nullable: true })
  page: number | null;

  // The Markdown or HTML heading it sits under.
  @Column({ type: 'varchar', length: 300, nullable: true })
  heading: string | null;

  @Column({ type: 'tsvector', select: false })
  search: string;

  @Column({ type: 'real', array: true, nullable: true, select: false })
  embedding: number[] | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
