import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1795305385121 implements MigrationInterface {
  name = 'Init1795305385121';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "users" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "email" character varying(320) NOT NULL, "password_hash" text NOT NULL, "name" character varying(100), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "users_email_key" ON "users"  ("email") `);
    await queryRunner.query(`CREATE TABLE "chats" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid, "anon_id" uuid, "title" character varying(200) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_message_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "chats_one_owner_check" CHECK ((user_id IS NULL) <> (anon_id IS NULL)), CONSTRAINT "PK_0117647b3c4a4e5ff198aeb6206" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "chats_anon_recent_idx" ON "chats"  ("anon_id", "updated_at") `);
    await queryRunner.query(`CREATE INDEX "chats_user_recent_idx" ON "chats"  ("user_id", "updated_at") `);
    await queryRunner.query(`CREATE TABLE "messages" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "chat_id" uuid NOT NULL, "role" character varying(16) NOT NULL, "content" text NOT NULL DEFAULT '', "status" character varying(16) NOT NULL, "model" character varying(100), "input_tokens" integer, "output_tokens" integer, "stop_reason" character varying(40), "error_code" character varying(40), "client_message_id" character varying(64), "owner_key" character varying(40), "request_hash" character varying(64), "reply_to_id" uuid, "replaces_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "messages_status_check" CHECK (status IN ('streaming', 'complete', 'stopped', 'error', 'superseded')), CONSTRAINT "messages_role_check" CHECK (role IN ('user', 'assistant')), CONSTRAINT "PK_18325f38ae6de43878487eff986" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "messages_streaming_idx" ON "messages"  ("updated_at") WHERE status = 'streaming'`);
    await queryRunner.query(`CREATE UNIQUE INDEX "messages_owner_client_id_key" ON "messages"  ("owner_key", "client_message_id") WHERE client_message_id IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "messages_chat_created_idx" ON "messages"  ("chat_id", "created_at") `);
    await queryRunner.query(`ALTER TABLE "chats" ADD CONSTRAINT "chats_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "messages" ADD CONSTRAINT "messages_chat_id_fkey" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "messages" ADD CONSTRAINT "messages_reply_to_id_fkey" FOREIGN KEY ("reply_to_id") REFERENCES "messages"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "messages" ADD CONSTRAINT "messages_replaces_id_fkey" FOREIGN KEY ("replaces_id") REFERENCES "messages"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "messages_replaces_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "messages_reply_to_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "messages" DROP CONSTRAINT "messages_chat_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "chats" DROP CONSTRAINT "chats_user_id_fkey"`);
    await queryRunner.query(`DROP INDEX "public"."messages_chat_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."messages_owner_client_id_key"`);
    await queryRunner.query(`DROP INDEX "public"."messages_streaming_idx"`);
    await queryRunner.query(`DROP TABLE "messages"`);
    await queryRunner.query(`DROP INDEX "public"."chats_user_recent_idx"`);
    await queryRunner.query(`DROP INDEX "public"."chats_anon_recent_idx"`);
    await queryRunner.query(`DROP TABLE "chats"`);
    await queryRunner.query(`DROP INDEX "public"."users_email_key"`);
    await queryRunner.query(`DROP TABLE "users"`);
  }
}
