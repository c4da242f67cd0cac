/**
 * One embedded PostgreSQL for the whole bench run, set up the way an operator would: an owner
 * role that migrates, a service role the vault connects as, and a migrated template from which
 * every figure clones its own database, so that no figure sees another's rows.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { migrate } from '../../src/db/migrate.js';

const OWNER_ROLE = 'bench_owner';
const SERVICE_ROLE = 'bench_service';
const TEMPLATE = 'bench_template';

export interface BenchDatabase {
  readonly name: string;
  /** Service role, as DATABASE_URL. */
  readonly url: string;
  /** Owner role, as DATABASE_ADMIN_URL. */
  readonly adminUrl: string;
}

export interface BenchCluster {
  createDatabase(): Promise<BenchDatabase>;
  stop(): Promise<void>;
}

export async function startCluster(scratch: string): Promise<BenchCluster> {
  const server = await EmbeddedPostgres.start({ dir: path.join(scratch, 'pg') });
  const ownerPassword = randomBytes(12).toString('hex');
  const servicePassword = randomBytes(12).toString('hex');
  const superuser = server.url();
  try {
    await withClient(superuser, async (c) => {
      await c.query(`CREATE ROLE ${OWNER_ROLE} LOGIN PASSWORD '${ownerPassword}'`);
      await c.query(`CREATE ROLE ${SERVICE_ROLE} LOGIN PASSWORD '${servicePassword}'`);
      await c.query(`CREATE DATABASE ${TEMPLATE} OWNER ${OWNER_ROLE}`);
    });
    await migrate(server.url(TEMPLATE, OWNER_ROLE, ownerPassword), server.url(TEMPLATE, SERVICE_ROLE, servicePassword));
  } catch (err) {
    await server.stop();
    throw err;
  }
  let counter = 0;
  return {
    async createDatabase() {
      const name = `bench_${++counter}_${randomBytes(3).toString('hex')}`;
      await withClient(superuser, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE} OWNER ${OWNER_ROLE}`));
      return {
        name,
        url: server.url(name, SERVICE_ROLE, servicePassword),
        adminUrl: server.url(name, OWNER_ROLE, ownerPassword),
      };
    },
    stop: () => server.stop(),
  };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
