import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * The audit log: append-only in the database itself. The service role may only INSERT and
 * SELECT; triggers refuse UPDATE, DELETE and TRUNCATE even for the owner, so changing history
 * takes a superuser (or the owner) deliberately disabling them, which the hash chain and the
 * signed anchors then expose. Text columns keep values byte-for-byte as hashed (no inet or uuid
 * normalisation), and `at` is written as an explicit UTC instant. See docs/audit.md.
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.raw(`
    CREATE TABLE audit_events (
      seq bigint PRIMARY KEY CHECK (seq > 0),
      at timestamptz NOT NULL,
      tenant text,
      actor_sub text NOT NULL,
      actor_role text,
      action text NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
      recording_id text,
      link_id text,
      ip text,
      user_agent text,
      request_id text,
      details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object'),
      prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
      hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
    )`);
  await knex.raw('CREATE INDEX audit_events_tenant_seq_idx ON audit_events (tenant, seq)');
  await knex.raw('CREATE INDEX audit_events_tenant_at_idx ON audit_events (tenant, at)');
  await knex.raw('CREATE INDEX audit_events_recording_idx ON audit_events (tenant, recording_id, seq) WHERE recording_id IS NOT NULL');
  await knex.raw('CREATE INDEX audit_events_actor_idx ON audit_events (tenant, actor_sub, seq)');

  await knex.raw(`
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END
    $$`);
  await knex.raw(`CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
  await knex.raw(`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);

  await knex.raw('REVOKE ALL ON audit_events FROM PUBLIC');
  if (ctx.serviceRole) {
    // Revoke first: default privileges set up by a DBA must not leave UPDATE or DELETE behind.
    await knex.raw('REVOKE ALL ON audit_events FROM ??', [ctx.serviceRole]);
    await knex.raw('GRANT SELECT, INSERT ON audit_events TO ??', [ctx.serviceRole]);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS audit_events');
  await knex.raw('DROP FUNCTION IF EXISTS audit_events_append_only()');
}
