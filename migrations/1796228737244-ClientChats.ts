import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ClientChats1796228737244 implements MigrationInterface {
  name = 'ClientChats1796228737244';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "client_chats" ("owner_key" character varying(40) NOT NULL, "client_chat_id" character varying(64) NOT NULL, "chat_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "client_chats_pkey" PRIMARY KEY ("owner_key", "client_chat_id"))`);
    await queryRunner.query(`CREATE INDEX "client_chats_chat_idx" ON "client_chats"  ("chat_id") `);
    await queryRunner.query(`ALTER TABLE "client_chats" ADD CONSTRAINT "client_chats_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "client_chats" DROP CONSTRAINT "client_chats_chat_id_fkey"`);
    await queryRunner.query(`DROP INDEX "public"."client_chats_chat_idx"`);
    await queryRunner.query(`DROP TABLE "client_chats"`);
  }
}
