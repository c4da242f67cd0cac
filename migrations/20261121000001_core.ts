import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * Core schema: tenants, retention policies, recordings and playback links. Phone numbers are
 * searchable only through keyed hashes (from_hash, to_hash); the plain numbers live in columns
 * that carry no index. A recording row is the only place its wrapped data key exists, so
 * clearing wrapped_key crypto-shreds the object even in bucket backups.
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pgcrypto').catch(() => undefined);

  await knex.schema.createTable('tenants', (t) => {
    t.text('id').primary();
    t.text('default_policy');
    t.text('kms_key_id');
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('retention_policies', (t) => {
    t.text('tenant').notNullable();
    t.text('name').notNullable();
    t.text('retain').notNullable();
    t.text('description');
    t.text('updated_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['tenant', 'name']);
  });

  await knex.schema.createTable('recordings', (t) => {
    t.uuid('id').primary();
    t.text('tenant').notNullable();
    t.text('call_id').notNullable();
    // active → deleting → deleted; deleting rows are invisible to readers and owned by a lease.
    t.text('status').notNullable().defaultTo('active');
    t.text('object_key');
    t.text('sha256').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.text('content_type').notNullable();
    t.integer('segment_size');
    t.binary('crypto_header');
    t.binary('wrapped_key');
    t.text('key_ref');
    t.text('policy');
    t.timestamp('retain_until', { useTz: true });
    t.timestamp('started_at', { useTz: true });
    t.double('duration_seconds');
    t.text('direction');
    t.text('from_number');
    t.text('to_number');
    t.text('from_hash');
    t.text('to_hash');
    t.text('agent_id');
    t.specificType('tags', 'text[]').notNullable().defaultTo('{}');
    t.text('uploaded_by');
    t.boolean('legal_hold').notNullable().defaultTo(false);
    t.text('legal_hold_reason');
    t.text('legal_hold_case_id');
    t.text('legal_hold_by');
    t.timestamp('legal_hold_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true });
    t.text('deletion_reason');
    t.timestamp('lease_until', { useTz: true });
    t.text('lease_owner');
    t.unique(['tenant', 'call_id']);
    t.check(`status IN ('active', 'deleting', 'deleted')`, [], 'recordings_status_check');
    t.check(`direction IS NULL OR direction IN ('inbound', 'outbound', 'internal')`, [], 'recordings_direction_check');
  });
  await knex.raw(`CREATE INDEX recordings_search_idx ON recordings (tenant, (coalesce(started_at, created_at)) DESC, id DESC) WHERE status = 'active'`);
  await knex.raw(`CREATE INDEX recordings_agent_idx ON recordings (tenant, agent_id) WHERE status = 'active'`);
  await knex.raw(`CREATE INDEX recordings_from_hash_idx ON recordings (tenant, from_hash) WHERE status = 'active'`);
  await knex.raw(`CREATE INDEX recordings_to_hash_idx ON recordings (tenant, to_hash) WHERE status = 'active'`);
  await knex.raw(`CREATE INDEX recordings_tags_idx ON recordings USING gin (tags)`);
  await knex.raw(`CREATE INDEX recordings_due_idx ON recordings (retain_until) WHERE status <> 'deleted' AND legal_hold = false`);

  await knex.schema.createTable('links', (t) => {
    t.uuid('id').primary();
    t.text('tenant').notNullable();
    t.uuid('recording_id').notNullable().references('id').inTable('recordings');
    t.text('issued_by').notNullable();
    t.text('reason').notNullable();
    t.boolean('single_use').notNullable().defaultTo(false);
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true });
    t.text('revoked_by');
    t.timestamp('first_used_at', { useTz: true });
    t.text('first_used_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['tenant', 'recording_id']);
  });

  if (ctx.serviceRole) {
    await knex.raw(`GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, retention_policies, recordings, links TO ??`, [ctx.serviceRole]);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('links');
  await knex.schema.dropTableIfExists('recordings');
  await knex.schema.dropTableIfExists('retention_policies');
  await knex.schema.dropTableIfExists('tenants');
}
