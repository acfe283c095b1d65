import type { MigrationInterface, QueryRunner } from 'typeorm';

export class UsageLedger1795305920321 implements MigrationInterface {
  name = 'UsageLedger1795305920321';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "anon_usage" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "anon_id" uuid NOT NULL, "client_address" character varying(64), "message_key" character varying(100) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(), "settled_at" TIMESTAMP WITH TIME ZONE, "refunded_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "anon_usage_pkey" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "anon_usage_address_window_idx" ON "anon_usage"  ("client_address", "created_at") WHERE refunded_at IS NULL`);
    await queryRunner.query(`CREATE INDEX "anon_usage_anon_window_idx" ON "anon_usage"  ("anon_id", "created_at") WHERE refunded_at IS NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "anon_usage_message_key_key" ON "anon_usage"  ("message_key") `);
    await queryRunner.query(`CREATE TABLE "credit_accounts" ("user_id" uuid NOT NULL, "balance" bigint NOT NULL DEFAULT '0', "reserved" bigint NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "credit_accounts_reserved_check" CHECK (reserved >= 0), CONSTRAINT "credit_accounts_balance_check" CHECK (balance >= 0), CONSTRAINT "credit_accounts_pkey" PRIMARY KEY ("user_id"))`);
    await queryRunner.query(`CREATE TABLE "credit_ledger" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "kind" character varying(16) NOT NULL, "amount" bigint NOT NULL, "message_key" character varying(100), "model" character varying(100), "input_tokens" integer, "output_tokens" integer, "estimated" boolean NOT NULL DEFAULT false, "note" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(), CONSTRAINT "credit_ledger_kind_check" CHECK (kind IN ('grant', 'reserve', 'release', 'charge', 'refund')), CONSTRAINT "credit_ledger_pkey" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "credit_ledger_message_kind_key" ON "credit_ledger"  ("message_key", "kind") WHERE message_key IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "credit_ledger_user_created_idx" ON "credit_ledger"  ("user_id", "created_at") `);
    await queryRunner.query(`ALTER TABLE "credit_accounts" ADD CONSTRAINT "credit_accounts_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "credit_ledger" ADD CONSTRAINT "credit_ledger_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "credit_ledger" DROP CONSTRAINT "credit_ledger_user_id_fkey"`);
    await queryRunner.query(`ALTER TABLE "credit_accounts" DROP CONSTRAINT "credit_accounts_user_id_fkey"`);
    await queryRunner.query(`DROP INDEX "public"."credit_ledger_user_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."credit_ledger_message_kind_key"`);
    await queryRunner.query(`DROP TABLE "credit_ledger"`);
    await queryRunner.query(`DROP TABLE "credit_accounts"`);
    await queryRunner.query(`DROP INDEX "public"."anon_usage_message_key_key"`);
    await queryRunner.query(`DROP INDEX "public"."anon_usage_anon_window_idx"`);
    await queryRunner.query(`DROP INDEX "public"."anon_usage_address_window_idx"`);
    await queryRunner.query(`DROP TABLE "anon_usage"`);
  }
}
