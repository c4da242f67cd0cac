import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * Console sessions (src/console/sessions.ts). The browser holds `<id>.<secret>` in an HttpOnly
 * cookie; the row keeps only SHA-256 of the secret, so a copy of this table signs nobody in.
 * Expiry is decided on the database clock: idle against last_seen_at, absolute against
 * expires_at. An ended session keeps its row (ended_at, end_reason) until it is swept.
 * Identity-provider tokens stay here, sealed with AES-256-GCM (never in the browser).
 *
 * console_sign_ins holds an OIDC authorization request between the redirect to the identity
 * provider and its callback: keyed by SHA-256 of `state`, holding the sealed PKCE verifier and
 * the nonce. A row is used at most once (deleted as it is read).
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.raw(`
    CREATE TABLE console_sessions (
      id uuid PRIMARY KEY,
      verifier bytea NOT NULL CHECK (octet_length(verifier) = 32),
      tenant text NOT NULL,
      sub text NOT NULL,
      roles text[] NOT NULL,
      method text NOT NULL CHECK (method IN ('development', 'oidc')),
      amr text[] NOT NULL DEFAULT '{}',
      acr text,
      tokens bytea,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      ended_at timestamptz,
      end_reason text CHECK (end_reason IN ('signed_out', 'idle', 'absolute')),
      CHECK ((ended_at IS NULL) = (end_reason IS NULL))
    )`);
  await knex.raw('CREATE INDEX console_sessions_open_idx ON console_sessions (last_seen_at) WHERE ended_at IS NULL');
  await knex.raw(`
    CREATE TABLE console_sign_ins (
      state_hash bytea PRIMARY KEY CHECK (octet_length(state_hash) = 32),
      sealed bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  await knex.raw('CREATE INDEX console_sign_ins_created_idx ON console_sign_ins (created_at)');
  for (const table of ['console_sessions', 'console_sign_ins']) {
    await knex.raw('REVOKE ALL ON ?? FROM PUBLIC', [table]);
    if (ctx.serviceRole) await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON ?? TO ??', [table, ctx.serviceRole]);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS console_sign_ins');
  await knex.raw('DROP TABLE IF EXISTS console_sessions');
}
