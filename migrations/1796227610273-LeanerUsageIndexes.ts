import type { MigrationInterface, QueryRunner } from 'typeorm';

export class LeanerUsageIndexes1796227610273 implements MigrationInterface {
  name = 'LeanerUsageIndexes1796227610273';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."anon_usage_message_key_key"`);
    await queryRunner.query(`ALTER TABLE "anon_usage" DROP CONSTRAINT "anon_usage_pkey"`);
    await queryRunner.query(`ALTER TABLE "anon_usage" DROP COLUMN "id"`);
    await queryRunner.query(`ALTER TABLE "anon_usage" ADD CONSTRAINT "anon_usage_pkey" PRIMARY KEY ("message_key")`);
    // Partial indexes whose WHERE changed (TypeORM does not compare it): written by hand.
    await queryRunner.query(`DROP INDEX "public"."anon_usage_address_window_idx"`);
    await queryRunner.query(`CREATE INDEX "anon_usage_address_window_idx" ON "anon_usage"  ("client_address", "created_at") WHERE refunded_at IS NULL AND client_address IS NOT NULL`);
    await queryRunner.query(`DROP INDEX "public"."chats_user_recent_idx"`);
    await queryRunner.query(`CREATE INDEX "chats_user_recent_idx" ON "chats"  ("user_id", "updated_at") WHERE user_id IS NOT NULL`);
    await queryRunner.query(`DROP INDEX "public"."chats_anon_recent_idx"`);
    await queryRunner.query(`CREATE INDEX "chats_anon_recent_idx" ON "chats"  ("anon_id", "updated_at") WHERE anon_id IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."chats_anon_recent_idx"`);
    await queryRunner.query(`CREATE INDEX "chats_anon_recent_idx" ON "chats"  ("anon_id", "updated_at") `);
    await queryRunner.query(`DROP INDEX "public"."chats_user_recent_idx"`);
    await queryRunner.query(`CREATE INDEX "chats_user_recent_idx" ON "chats"  ("user_id", "updated_at") `);
    await queryRunner.query(`DROP INDEX "public"."anon_usage_address_window_idx"`);
    await queryRunner.query(`CREATE INDEX "anon_usage_address_window_idx" ON "anon_usage"  ("client_address", "created_at") WHERE refunded_at IS NULL`);
    await queryRunner.query(`ALTER TABLE "anon_usage" DROP CONSTRAINT "anon_usage_pkey"`);
    await queryRunner.query(`ALTER TABLE "anon_usage" ADD "id" uuid NOT NULL DEFAULT gen_random_uuid()`);
    await queryRunner.query(`ALTER TABLE "anon_usage" ADD CONSTRAINT "anon_usage_pkey" PRIMARY KEY ("id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "anon_usage_message_key_key" ON "anon_usage" USING btree ("message_key") `);
  }
}
