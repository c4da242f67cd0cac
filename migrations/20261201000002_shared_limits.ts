import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * The counters of the request guards (rate limits, authentication lockout, the exfiltration
 * guard), shared by every replica: one row per limited key, in the layout rate-limiter-flexible's
 * PostgreSQL store expects (key, points, expire in epoch milliseconds). The service role only
 * reads and writes rows; it needs no CREATE privilege. Expired rows are deleted by the vault.
 * UNLOGGED: every request writes here, and counters that last a minute or an hour are not worth
 * WAL; after a database crash or a failover to a standby the table starts empty, which only
 * resets the current windows.
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.raw(`
    CREATE UNLOGGED TABLE rate_limits (
      key varchar(255) PRIMARY KEY,
      points integer NOT NULL DEFAULT 0,
      expire bigint
    )`);
  await knex.raw('CREATE INDEX rate_limits_expire_idx ON rate_limits (expire)');
  await knex.raw('REVOKE ALL ON rate_limits FROM PUBLIC');
  if (ctx.serviceRole) await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO ??', [ctx.serviceRole]);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS rate_limits');
}
