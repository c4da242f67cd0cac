import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * Per-tenant audit logs (docs/audit.md, "Per-tenant logs"): a registry of logs, each event's log
 * and position in it, the Merkle subtree hashes of every log and its signed checkpoints. No
 * existing row is rewritten: events of the single-chain epoch keep log_id null and verify as
 * before. Every new table is append-only like audit_events: the service role may only SELECT and
 * INSERT, and triggers refuse UPDATE, DELETE and TRUNCATE for every role.
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END
    $$`);

  await knex.raw(`
    CREATE TABLE audit_logs (
      log_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      tenant text CHECK (tenant <> ''),
      origin text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  // One log per tenant and exactly one (tenant null) system log.
  await knex.raw("CREATE UNIQUE INDEX audit_logs_tenant_idx ON audit_logs (coalesce(tenant, ''))");

  await knex.raw(`
    ALTER TABLE audit_events
      ADD COLUMN log_id integer REFERENCES audit_logs (log_id),
      ADD COLUMN log_seq bigint,
      ADD COLUMN recording_prev bigint,
      ADD CONSTRAINT audit_events_log_position CHECK (
        (log_id IS NULL AND log_seq IS NULL AND recording_prev IS NULL)
        OR (log_id IS NOT NULL AND log_seq > 0 AND (recording_prev IS NULL OR (recording_prev > 0 AND recording_prev < log_seq)))
      )`);
  await knex.raw('CREATE UNIQUE INDEX audit_events_log_seq_idx ON audit_events (log_id, log_seq) WHERE log_id IS NOT NULL');
  await knex.raw(`CREATE INDEX audit_events_log_recording_idx ON audit_events (log_id, recording_id, log_seq)
    WHERE log_id IS NOT NULL AND recording_id IS NOT NULL`);
  // The single chain's own head, now that per-log events follow it in seq order.
  await knex.raw('CREATE INDEX audit_events_single_chain_idx ON audit_events (seq) WHERE log_id IS NULL');
  await knex.raw(`CREATE UNIQUE INDEX audit_events_epoch_idx ON audit_events ((1))
    WHERE log_id IS NULL AND action = 'audit.anchored' AND details->>'trigger' = 'epoch'`);
  // Per-log events take their storage order from here, after the epoch event's seq.
  await knex.raw('CREATE SEQUENCE audit_events_log_order AS bigint MINVALUE 1');

  // Once the single chain is closed, nothing may extend it: a replica of the previous version
  // still running fails closed instead of writing into the closed chain.
  await knex.raw(`
    CREATE FUNCTION audit_events_epoch_closed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM audit_events
                  WHERE log_id IS NULL AND action = 'audit.anchored' AND details->>'trigger' = 'epoch') THEN
        RAISE EXCEPTION 'the single audit chain is closed: events go to per-tenant logs'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    END
    $$`);
  await knex.raw(`CREATE TRIGGER audit_events_single_chain_closed BEFORE INSERT ON audit_events
    FOR EACH ROW WHEN (NEW.log_id IS NULL) EXECUTE FUNCTION audit_events_epoch_closed()`);

  await knex.raw(`
    CREATE TABLE audit_subtrees (
      log_id integer NOT NULL REFERENCES audit_logs (log_id),
      level smallint NOT NULL CHECK (level >= 0 AND level < 63),
      index bigint NOT NULL CHECK (index >= 0),
      hash bytea NOT NULL CHECK (octet_length(hash) = 32),
      PRIMARY KEY (log_id, level, index)
    )`);

  await knex.raw(`
    CREATE TABLE audit_log_heads (
      log_id integer NOT NULL REFERENCES audit_logs (log_id),
      size bigint NOT NULL CHECK (size > 0),
      root_hash bytea NOT NULL CHECK (octet_length(root_hash) = 32),
      last_hash text NOT NULL CHECK (last_hash ~ '^[0-9a-f]{64}$'),
      signed_at timestamptz NOT NULL,
      checkpoint text NOT NULL,
      PRIMARY KEY (log_id, size)
    )`);

  for (const table of ['audit_logs', 'audit_subtrees', 'audit_log_heads']) {
    await knex.raw(`CREATE TRIGGER ${table}_no_update_delete BEFORE UPDATE OR DELETE ON ${table}
      FOR EACH ROW EXECUTE FUNCTION audit_append_only()`);
    await knex.raw(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
      FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`);
    await knex.raw('REVOKE ALL ON ?? FROM PUBLIC', [table]);
    if (ctx.serviceRole) {
      await knex.raw('REVOKE ALL ON ?? FROM ??', [table, ctx.serviceRole]);
      await knex.raw('GRANT SELECT, INSERT ON ?? TO ??', [table, ctx.serviceRole]);
    }
  }
  await knex.raw('REVOKE ALL ON SEQUENCE audit_events_log_order, audit_logs_log_id_seq FROM PUBLIC');
  if (ctx.serviceRole) {
    // USAGE allows nextval only: the service cannot move a sequence back (setval needs UPDATE).
    await knex.raw('GRANT USAGE ON SEQUENCE audit_events_log_order, audit_logs_log_id_seq TO ??', [ctx.serviceRole]);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS audit_log_heads, audit_subtrees');
  await knex.raw('DROP TRIGGER IF EXISTS audit_events_single_chain_closed ON audit_events');
  await knex.raw('DROP FUNCTION IF EXISTS audit_events_epoch_closed()');
  await knex.raw('DROP SEQUENCE IF EXISTS audit_events_log_order');
  await knex.raw(`ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_log_position,
    DROP COLUMN IF EXISTS recording_prev, DROP COLUMN IF EXISTS log_seq, DROP COLUMN IF EXISTS log_id`);
  await knex.raw('DROP TABLE IF EXISTS audit_logs');
  await knex.raw('DROP FUNCTION IF EXISTS audit_append_only()');
}
