import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * Retention, legal hold and erasure bookkeeping on recordings (the columns the core schema did
 * not have). A claim by a deletion worker is a lease (lease_owner, lease_until) plus lease_key,
 * the key of an advisory lock the worker holds for as long as it runs: a claim whose key is no
 * longer locked belongs to a dead worker and can be taken over before its lease runs out.
 * A tombstone records who erased it (deleted_by) and why (deletion_note) next to the kind of
 * deletion (deletion_reason: retention | erasure).
 */
export async function up(knex: Knex, _ctx: MigrationContext): Promise<void> {
  await knex.schema.alterTable('recordings', (t) => {
    t.integer('lease_key');
    t.text('deletion_note');
    t.text('deleted_by');
  });
  await knex.raw(`CREATE INDEX recordings_held_due_idx ON recordings (retain_until) WHERE status = 'active' AND legal_hold`);
  await knex.raw(`CREATE INDEX recordings_deleting_idx ON recordings (lease_until) WHERE status = 'deleting'`);
  await knex.raw(`CREATE INDEX recordings_key_ref_idx ON recordings (key_ref) WHERE wrapped_key IS NOT NULL`);
  await knex.raw(`CREATE INDEX recordings_hold_case_idx ON recordings (tenant, legal_hold_case_id) WHERE legal_hold`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS recordings_hold_case_idx');
  await knex.raw('DROP INDEX IF EXISTS recordings_key_ref_idx');
  await knex.raw('DROP INDEX IF EXISTS recordings_deleting_idx');
  await knex.raw('DROP INDEX IF EXISTS recordings_held_due_idx');
  await knex.schema.alterTable('recordings', (t) => {
    t.dropColumn('deleted_by');
    t.dropColumn('deletion_note');
    t.dropColumn('lease_key');
  });
}
