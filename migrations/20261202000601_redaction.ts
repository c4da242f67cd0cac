import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * Redaction (docs/redaction.md). A redaction replaces a recording's object and data key in place:
 * the row keeps its id and gains a `version`; `redacted_at` (database clock) is when its newest
 * version became the one served, so links issued before it can be told apart.
 *
 * redactions — one receipt per version made, with the hashes before and after and the ranges.
 * redaction_requests — four-eyes requests (REDACTION_APPROVAL=required) and their decision.
 * redaction_originals — a `pii` original kept sealed by the tenant's choice: its object and its
 *   wrapped key, readable only by compliance. A `pci` original never gets a row here.
 * redaction_settings — per tenant, whether `pii` redactions keep a sealed original.
 *
 * The orphan sweep asks by object key whether an object is still referenced (a redacted
 * recording's object key no longer carries the recording id), hence the index on object_key.
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.schema.alterTable('recordings', (t) => {
    t.integer('version').notNullable().defaultTo(1);
    t.timestamp('redacted_at', { useTz: true });
  });
  await knex.raw('CREATE INDEX recordings_object_key_idx ON recordings (object_key) WHERE object_key IS NOT NULL');

  await knex.schema.createTable('redactions', (t) => {
    t.uuid('id').primary();
    t.text('tenant').notNullable();
    t.uuid('recording_id').notNullable().references('id').inTable('recordings');
    t.integer('version').notNullable();
    t.text('category').notNullable();
    t.text('fill').notNullable();
    t.text('reason').notNullable();
    t.jsonb('ranges').notNullable();
    t.text('previous_sha256').notNullable();
    t.bigInteger('previous_size_bytes').notNullable();
    t.text('previous_content_type').notNullable();
    t.text('sha256').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.text('content_type').notNullable();
    t.boolean('original_kept').notNullable();
    t.text('requested_by').notNullable();
    t.text('approved_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['recording_id', 'version']);
    t.index(['tenant', 'recording_id']);
    t.check(`category IN ('pci', 'pii')`, [], 'redactions_category_check');
    t.check(`fill IN ('silence', 'tone')`, [], 'redactions_fill_check');
  });

  await knex.schema.createTable('redaction_requests', (t) => {
    t.uuid('id').primary();
    t.text('tenant').notNullable();
    t.uuid('recording_id').notNullable().references('id').inTable('recordings');
    t.text('status').notNullable().defaultTo('pending');
    t.text('category').notNullable();
    t.text('fill').notNullable();
    t.text('reason').notNullable();
    t.jsonb('ranges').notNullable();
    t.text('requested_by').notNullable();
    t.text('requested_role');
    t.text('decided_by');
    t.timestamp('decided_at', { useTz: true });
    t.text('decision_note');
    t.uuid('redaction_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant', 'status']);
    t.check(`status IN ('pending', 'approved', 'refused')`, [], 'redaction_requests_status_check');
    t.check(`status = 'pending' OR decided_by IS NOT NULL`, [], 'redaction_requests_decided_check');
    t.check(`decided_by IS NULL OR decided_by <> requested_by`, [], 'redaction_requests_four_eyes_check');
  });

  await knex.schema.createTable('redaction_originals', (t) => {
    t.uuid('redaction_id').primary().references('id').inTable('redactions');
    t.text('tenant').notNullable();
    t.uuid('recording_id').notNullable().references('id').inTable('recordings');
    t.integer('version').notNullable();
    t.text('object_key');
    t.text('sha256').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.text('content_type').notNullable();
    t.integer('segment_size');
    t.binary('crypto_header');
    t.binary('wrapped_key');
    t.text('key_ref');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant', 'recording_id']);
  });
  await knex.raw('CREATE INDEX redaction_originals_object_key_idx ON redaction_originals (object_key) WHERE object_key IS NOT NULL');

  await knex.schema.createTable('redaction_settings', (t) => {
    t.text('tenant').primary();
    t.boolean('keep_pii_original').notNullable().defaultTo(false);
    t.text('updated_by').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  if (ctx.serviceRole) {
    await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON redactions, redaction_requests, redaction_originals, redaction_settings TO ??', [ctx.serviceRole]);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('redaction_settings');
  await knex.schema.dropTableIfExists('redaction_originals');
  await knex.schema.dropTableIfExists('redaction_requests');
  await knex.schema.dropTableIfExists('redactions');
  await knex.raw('DROP INDEX IF EXISTS recordings_object_key_idx');
  await knex.schema.alterTable('recordings', (t) => {
    t.dropColumn('redacted_at');
    t.dropColumn('version');
  });
}
