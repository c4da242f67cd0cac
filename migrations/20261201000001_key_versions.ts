import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * Facts that every replica must agree on, so they live in the database rather than in process
 * memory:
 *
 * key_versions — which local master key version new data keys are wrapped under (state
 * 'active', at most one row), which are kept for decryption only ('inactive'), which are on their
 * way out ('retiring': no new data key, in-flight uploads may still commit until retire_after)
 * and which are gone ('retired': an upload wrapped under it can no longer commit).
 *
 * uploads_in_progress — one row per upload between the start of its body and its commit or
 * abort, kept alive by a heartbeat on lease_until and by the advisory lock its process holds
 * (owner_key); the orphan sweep leaves the object (or temp file) of a live row alone, whichever
 * replica it streams through.
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.schema.createTable('key_versions', (t) => {
    t.text('key_ref').primary();
    t.text('state').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('retiring_since', { useTz: true });
    t.timestamp('retire_after', { useTz: true });
    t.timestamp('retired_at', { useTz: true });
    t.check(`state IN ('active', 'inactive', 'retiring', 'retired')`, [], 'key_versions_state_check');
    t.check(`state <> 'retiring' OR retire_after IS NOT NULL`, [], 'key_versions_retiring_check');
  });
  await knex.raw(`CREATE UNIQUE INDEX key_versions_one_active_idx ON key_versions ((true)) WHERE state = 'active'`);

  await knex.schema.createTable('uploads_in_progress', (t) => {
    t.text('object_key').primary();
    t.text('tenant').notNullable();
    t.uuid('recording_id').notNullable();
    t.text('owner').notNullable();
    // Key of the advisory lock (UPLOAD_LIVENESS_NAMESPACE) the owning process holds while it runs.
    t.integer('owner_key').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('lease_until', { useTz: true }).notNullable();
  });

  if (ctx.serviceRole) {
    await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON key_versions, uploads_in_progress TO ??', [ctx.serviceRole]);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('uploads_in_progress');
  await knex.schema.dropTableIfExists('key_versions');
}
