import type { MigrationInterface, QueryRunner } from 'typeorm';

export class LeanerMessageIndexes1796227451424 implements MigrationInterface {
  name = 'LeanerMessageIndexes1796227451424';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."messages_streaming_idx"`);
    // TypeORM does not compare an index's WHERE: this change is written by hand.
    await queryRunner.query(`DROP INDEX "public"."messages_reply_to_idx"`);
    await queryRunner.query(`CREATE INDEX "messages_reply_to_idx" ON "messages"  ("reply_to_id") WHERE reply_to_id IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."messages_reply_to_idx"`);
    await queryRunner.query(`CREATE INDEX "messages_reply_to_idx" ON "messages"  ("reply_to_id") `);
    await queryRunner.query(`CREATE INDEX "messages_streaming_idx" ON "messages" USING btree ("updated_at") WHERE ((status)::text = 'streaming'::text)`);
  }
}
