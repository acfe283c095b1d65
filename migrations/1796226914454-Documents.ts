import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Documents1796226914454 implements MigrationInterface {
  name = 'Documents1796226914454';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "projects" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid, "anon_id" uuid, "name" character varying(200) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "projects_one_owner_check" CHECK ((user_id IS NULL) <> (anon_id IS NULL)), CONSTRAINT "PK_6271df0a7aed1d6c0691ce6ac50" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "projects_anon_created_idx" ON "projects"  ("anon_id", "created_at") `);
    await queryRunner.query(`CREATE INDEX "projects_user_created_idx" ON "projects"  ("user_id", "created_at") `);
    await queryRunner.query(`CREATE TABLE "documents" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid, "anon_id" uuid, "project_id" uuid, "filename" character varying(255) NOT NULL, "media_type" character varying(100) NOT NULL, "bytes" integer NOT NULL, "status" character varying(16) NOT NULL, "progress" smallint NOT NULL DEFAULT '0', "chunk_count" integer NOT NULL DEFAULT '0', "error" character varying(500), "search_config" character varying(32), "content" bytea, "claim_id" uuid, "lease_until" TIMESTAMP WITH TIME ZONE, "attempts" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "documents_status_check" CHECK (status IN ('processing', 'ready', 'failed')), CONSTRAINT "documents_one_owner_check" CHECK ((user_id IS NULL) <> (anon_id IS NULL)), CONSTRAINT "PK_ac51aa5181ee2036f5ca482857c" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "documents_processing_idx" ON "documents"  ("created_at") WHERE status = 'processing'`);
    await queryRunner.query(`CREATE INDEX "documents_project_idx" ON "documents"  ("project_id") `);
    await queryRunner.query(`CREATE INDEX "documents_anon_project_idx" ON "documents"  ("anon_id", "project_id") `);
    await queryRunner.query(`CREATE INDEX "documents_user_project_idx" ON "documents"  ("user_id", "project_id") `);
    await queryRunner.query(`CREATE TABLE "document_passages" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "document_id" uuid NOT NULL, "ordinal" integer NOT NULL, "content" text NOT NULL, "page" integer, "heading" character varying(300), "search" tsvector NOT NULL, "embedding" real array, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_d0bd9037cab3bda0a6e070f31e4" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "document_passages_search_idx" ON "document_passages" USING gin ("search") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "document_passages_document_ordinal_key" ON "document_passages"  ("document_id", "ordinal") `);
    await queryRunner.query(`ALTER TABLE "chats" ADD "project_id" uuid`);
    await queryRunner.query(`ALTER TABLE "messages" ADD "sources" jsonb`);
    await queryRunner.query(`ALTER TABLE "projects" ADD CONSTRAINT "projects_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "chats" ADD CONSTRAINT "chats_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "documents" ADD CONSTRAINT "documents_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "documents" ADD CONSTRAINT "documents_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "document_passages" ADD CONSTRAINT "document_passages_document_id_fkey" FOREIGN KEY ("document_id") REFERENCES "documents"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "document_passages" DROP CONSTRAINT "document_passages_document_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "documents" DROP CONSTRAINT "documents_project_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "documents" DROP CONSTRAINT "documents_user_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "chats" DROP CONSTRAINT "chats_project_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "projects" DROP CONSTRAINT "projects_user_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP COLUMN "sources"`);
    await queryRunner.query(`ALTER TABLE "chats" DROP COLUMN "project_id"`);
    await queryRunner.query(`DROP INDEX "public"."document_passages_document_ordinal_key"`);
    await queryRunner.query(`DROP INDEX "public"."document_passages_search_idx"`);
    await queryRunner.query(`DROP TABLE "document_passages"`);
    await queryRunner.query(`DROP INDEX "public"."documents_user_project_idx"`);
    await queryRunner.query(`DROP INDEX "public"."documents_anon_project_idx"`);
    await queryRunner.query(`DROP INDEX "public"."documents_project_idx"`);
    await queryRunner.query(`DROP INDEX "public"."documents_processing_idx"`);
    await queryRunner.query(`DROP TABLE "documents"`);
    await queryRunner.query(`DROP INDEX "public"."projects_user_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."projects_anon_created_idx"`);
    await queryRunner.query(`DROP TABLE "projects"`);
  }
}
