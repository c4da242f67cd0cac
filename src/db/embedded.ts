import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config/config.js';
import { loadSecret } from '../config/secrets.js';
import { EmbeddedPostgres } from './embedded-postgres.js';
import { migrate } from './migrate.js';

export const EMBEDDED_DATABASE = 'callvault';
export const OWNER_ROLE = 'callvault_owner';
export const SERVICE_ROLE = 'callvault_service';

export interface EmbeddedDatabase {
  readonly server: EmbeddedPostgres;
  /** Service role: INSERT and SELECT only on the audit table. */
  readonly url: string;
  /** Owner role: runs migrations. */
  readonly adminUrl: string;
  readonly superuserUrl: string;
}

async function rolePassword(dataDir: string, name: string): Promise<string> {
  const key = await loadSecret({ file: path.join(dataDir, 'secrets', `db-${name}.password`), generate: true }, 'CALLVAULT_DATA_DIR');
  return key.toString('base64url');
}

/**
 * Starts the embedded server and sets up what an operator would do by hand in external mode:
 * an owner role that migrates, a service role the API uses, and the database.
 */
export async function startEmbeddedDatabase(config: Config, onLog?: (line: string) => void): Promise<EmbeddedDatabase> {
  const server = await EmbeddedPostgres.start({
    dir: path.join(config.dataDir, 'postgres'), port: config.database.embeddedPort, runtimeDir: config.database.embeddedRuntimeDir, onLog,
  });
  try {
    const ownerPassword = await rolePassword(config.dataDir, 'owner');
    const servicePassword = await rolePassword(config.dataDir, 'service');
    const client = new pg.Client({ connectionString: server.url() });
    await client.connect();
    try {
      for (const [role, password] of [[OWNER_ROLE, ownerPassword], [SERVICE_ROLE, servicePassword]] as const) {
        const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
        const verb = exists.rowCount ? 'ALTER' : 'CREATE';
        await client.query(`${verb} ROLE ${role} LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
      }
      const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE]);
      if (!db.rowCount) await client.query(`CREATE DATABASE ${EMBEDDED_DATABASE} OWNER ${OWNER_ROLE}`);
    } finally {
      await client.end();
    }
    const result: EmbeddedDatabase = {
      server,
      url: server.url(EMBEDDED_DATABASE, SERVICE_ROLE, servicePassword),
      adminUrl: server.url(EMBEDDED_DATABASE, OWNER_ROLE, ownerPassword),
      superuserUrl: server.url(EMBEDDED_DATABASE),
    };
    await migrate(result.adminUrl, result.url);
    return result;
  } catch (err) {
    await server.stop();
    throw err;
  }
}
