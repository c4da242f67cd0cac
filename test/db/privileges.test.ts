import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ConfigError } from '../../src/config/schema.js';
import { createDb, type Db } from '../../src/db/knex.js';
import { migrate } from '../../src/db/migrate.js';
import { auditExposure, checkServicePrivileges } from '../../src/db/privileges.js';
import { APP_ROLE, clusterInfo, clusterUrl, createTestDatabase, type TestDatabase } from '../helpers/cluster.js';
import { serveUntilExit } from '../helpers/process.js';

/**
 * The documented default outside embedded mode is DATABASE_URL alone, so `callvault migrate`
 * runs as the service role, which then owns audit_events and can switch its triggers off. The
 * vault checks its own role at start and, in production mode, refuses to run like that.
 */
async function singleRoleDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const info = clusterInfo();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const su = new pg.Client({ connectionString: clusterUrl(info, 'postgres', 'superuser') });
  await su.connect();
  try { await su.query(`CREATE DATABASE ${name} OWNER ${APP_ROLE}`); } finally { await su.end(); }
  const url = clusterUrl(info, name, 'app');
  await migrate(url, url);
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: clusterUrl(info, 'postgres', 'superuser') });
      await c.connect();
      try { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } finally { await c.end(); }
    },
  };
}

/** Production settings that name files which do not exist: the privilege check comes before any is read. */
function productionEnv(dataDir: string, databaseUrl: string): Record<string, string> {
  const file = (name: string): string => path.join(dataDir, 'absent', name);
  return {
    CALLVAULT_MODE: 'production', CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, DATABASE_ADMIN_URL: '',
    TLS_CERT_FILE: file('tls.crt'), TLS_KEY_FILE: file('tls.key'), LOCAL_KEY_DIR: file('master-keys'),
    JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'callvault', JWT_JWKS_URI: 'https://idp.example/jwks',
    LINK_SIGNING_KEY_FILE: file('link.key'), PHONE_HASH_KEY_FILE: file('phone.key'), AUDIT_ANCHOR_KEY_FILE: file('anchor.pem'),
    AUDIT_NAMESPACE: 'callvault.example.com/test',
    LOG_LEVEL: 'warn', PORT: '0', HOST: '127.0.0.1', RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off',
  };
}

function warnings(): { lines: string[]; logger: { warn(obj: object, msg: string): void } } {
  const lines: string[] = [];
  return { lines, logger: { warn: (_obj, msg) => { lines.push(msg); } } };
}

describe('the service role and the audit table', () => {
  let single: Awaited<ReturnType<typeof singleRoleDatabase>>;
  let twoRoles: TestDatabase;
  let singleDb: Db;
  let twoRoleDb: Db;
  let dataDir: string;

  before(async () => {
    [single, twoRoles] = await Promise.all([singleRoleDatabase(), createTestDatabase()]);
    singleDb = createDb({ url: single.url, poolMax: 1 });
    twoRoleDb = createDb({ url: twoRoles.url, poolMax: 1 });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'callvault-privileges-'));
  });
  after(async () => {
    await Promise.all([singleDb.destroy(), twoRoleDb.destroy()]);
    await Promise.all([single.drop(), twoRoles.drop(), rm(dataDir, { recursive: true, force: true })]);
  });

  test('migrated with DATABASE_URL alone, the service role owns the table and could rewrite history', async () => {
    const { role, problems } = await auditExposure(singleDb);
    assert.equal(role, APP_ROLE);
    assert.ok(problems.some((p) => p.startsWith('owns audit_events')), problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('trigger function')), problems.join('\n'));
    // Not hypothetical: the owner can switch the triggers off and edit an event.
    await singleDb.raw(`INSERT INTO audit_events (seq, at, actor_sub, action, outcome, prev_hash, hash)
      VALUES (1, now(), 'a', 'x', 'allowed', repeat('0', 64), repeat('1', 64))`);
    await singleDb.raw('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
    await singleDb.raw(`UPDATE audit_events SET actor_sub = 'someone else' WHERE seq = 1`);
  });

  test('in production mode that vault refuses to start, naming the fix', async () => {
    await assert.rejects(checkServicePrivileges(singleDb, 'production', warnings().logger), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, 'DATABASE_URL');
      assert.match(err.message, /owns audit_events/);
      assert.match(err.message, /DATABASE_ADMIN_URL/);
      return true;
    });
    const res = await serveUntilExit(productionEnv(dataDir, single.url));
    assert.equal(res.code, 78, res.stdout + res.stderr);
    assert.match(res.stderr, /^callvault: configuration error: DATABASE_URL: the database role "callvault_app" owns audit_events/m);
    assert.match(res.stderr, /DATABASE_ADMIN_URL/);
    assert.doesNotMatch(res.stdout + res.stderr, /listening/);
  });

  test('outside production mode it starts with a warning', async () => {
    const { lines, logger } = warnings();
    await checkServicePrivileges(singleDb, 'embedded', logger);
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /owns audit_events.*DATABASE_ADMIN_URL/s);
  });

  test('a superuser, or a role granted UPDATE or DELETE on the table, is refused as well', async () => {
    const su = createDb({ url: twoRoles.superuserUrl, poolMax: 1 });
    try {
      assert.ok((await auditExposure(su)).problems.includes('is a superuser'));
      await su.raw(`GRANT UPDATE, DELETE ON audit_events TO ${APP_ROLE}`);
      const { problems } = await auditExposure(twoRoleDb);
      assert.deepEqual(problems, ['may UPDATE audit_events', 'may DELETE audit_events']);
      await assert.rejects(checkServicePrivileges(twoRoleDb, 'production', warnings().logger), ConfigError);
      await su.raw(`REVOKE UPDATE, DELETE ON audit_events FROM ${APP_ROLE}`);
      // The per-tenant logs' tables count the same: their subtrees and signed heads are evidence too.
      await su.raw(`GRANT DELETE ON audit_log_heads TO ${APP_ROLE}`);
      await su.raw(`GRANT UPDATE ON audit_subtrees TO ${APP_ROLE}`);
      assert.deepEqual((await auditExposure(twoRoleDb)).problems, ['may UPDATE audit_subtrees', 'may DELETE audit_log_heads']);
      await su.raw(`REVOKE DELETE ON audit_log_heads FROM ${APP_ROLE}`);
      await su.raw(`REVOKE UPDATE ON audit_subtrees FROM ${APP_ROLE}`);
    } finally {
      await su.destroy();
    }
  });

  test('an unreachable database is no pass: production mode does not start, elsewhere a warning', async () => {
    const down = createDb({ url: 'postgres://nobody:x@127.0.0.1:1/none', connectTimeoutMs: 300, poolMax: 1 });
    try {
      await assert.rejects(checkServicePrivileges(down, 'production', warnings().logger), /privileges of the DATABASE_URL role cannot be checked/);
      const { lines, logger } = warnings();
      await checkServicePrivileges(down, 'embedded', logger);
      assert.match(lines.join('\n'), /were not checked/);
    } finally {
      await down.destroy();
    }
  });

  test('the two-role setup (owner migrates, service role appends) passes in production mode', async () => {
    assert.deepEqual(await auditExposure(twoRoleDb), { role: APP_ROLE, problems: [] });
    const { lines, logger } = warnings();
    await checkServicePrivileges(twoRoleDb, 'production', logger);
    assert.deepEqual(lines, []);
    // Past the check, the same production settings fail only on the absent key files.
    const res = await serveUntilExit(productionEnv(dataDir, twoRoles.url));
    assert.notEqual(res.code, 78, res.stderr);
    assert.doesNotMatch(res.stderr, /audit_events/);
    assert.match(res.stdout + res.stderr, /absent/);
  });
});
