/**
 * One PostgreSQL server per test run; each test file gets a fresh database cloned from a
 * migrated template. The run script starts the server and publishes its coordinates in
 * CALLVAULT_TEST_CLUSTER; test files call createTestDatabase().
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface ClusterInfo {
  readonly port: number;
  readonly superuserPassword: string;
  readonly ownerPassword: string;
  readonly appPassword: string;
  readonly template: string;
}

export const OWNER_ROLE = 'callvault_owner';
export const APP_ROLE = 'callvault_app';

export function clusterUrl(info: ClusterInfo, database: string, role: 'superuser' | 'owner' | 'app'): string {
  const [user, password] = role === 'superuser' ? ['postgres', info.superuserPassword]
    : role === 'owner' ? [OWNER_ROLE, info.ownerPassword] : [APP_ROLE, info.appPassword];
  return `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${info.port}/${database}`;
}

export function clusterInfo(): ClusterInfo {
  const raw = process.env.CALLVAULT_TEST_CLUSTER;
  if (!raw) throw new Error('CALLVAULT_TEST_CLUSTER is not set: run the suite with `npm test` (add file paths to run only some)');
  return JSON.parse(raw) as ClusterInfo;
}

export interface TestDatabase {
  readonly name: string;
  /** Service role: what the running vault uses (DATABASE_URL). */
  readonly url: string;
  /** Owner role: what `callvault migrate` uses (DATABASE_ADMIN_URL). */
  readonly adminUrl: string;
  /** Cluster superuser: for tests that play an attacker with full database access. */
  readonly superuserUrl: string;
  drop(): Promise<void>;
}

/** A database cloned from the migrated template, or an empty one (`empty`) for testing the migrations themselves. */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const info = clusterInfo();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: clusterUrl(info, 'postgres', 'superuser') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${opts.empty ? 'template0' : info.template} OWNER ${OWNER_ROLE}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: clusterUrl(info, name, 'app'),
    adminUrl: clusterUrl(info, name, 'owner'),
    superuserUrl: clusterUrl(info, name, 'superuser'),
    drop: async () => {
      const c = new pg.Client({ connectionString: clusterUrl(info, 'postgres', 'superuser') });
      await c.connect();
      try { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } finally { await c.end(); }
    },
  };
}

/** Grants or revokes the service role's INSERT on audit_events: how tests make the audit log fail. */
export async function setAuditInsert(superuserUrl: string, allowed: boolean): Promise<void> {
  const c = new pg.Client({ connectionString: superuserUrl });
  await c.connect();
  try {
    await c.query(allowed ? `GRANT INSERT ON audit_events TO ${APP_ROLE}` : `REVOKE INSERT ON audit_events FROM ${APP_ROLE}`);
  } finally {
    await c.end();
  }
}
