import type { MigrationInterface, QueryRunner } from 'typeorm';

export class GenerationIndexes1796224766498 implements MigrationInterface {
  name = 'GenerationIndexes1796224766498';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "messages_reply_to_idx" ON "messages"  ("reply_to_id") `);
    await queryRunner.query(`CREATE INDEX "messages_owner_streaming_idx" ON "messages"  ("owner_key") WHERE status = 'streaming'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."messages_owner_streaming_idx"`);
    await queryRunner.query(`DROP INDEX "public"."messages_reply_to_idx"`);
  }
}
