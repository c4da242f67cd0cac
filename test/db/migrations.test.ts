import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createDb, type Db } from '../../src/db/knex.js';
import { DirectoryMigrationSource, migrate, roleOf } from '../../src/db/migrate.js';
import { auditExposure } from '../../src/db/privileges.js';
import { createTestDatabase, type TestDatabase } from '../helpers/cluster.js';

const TABLES = ['audit_events', 'audit_log_heads', 'audit_logs', 'audit_subtrees', 'console_sessions', 'console_sign_ins', 'download_grants', 'key_versions', 'links', 'rate_limits', 'recordings', 'redaction_originals', 'redaction_requests', 'redaction_settings', 'redactions', 'retention_policies', 'saved_searches', 'tenants', 'uploads_in_progress'];
const ZERO_HASH = '0'.repeat(64);

async function migrationFiles(): Promise<string[]> {
  const files = await readdir(path.resolve(import.meta.dirname, '../../migrations'));
  return files.filter((f) => /^\d+_[\w-]+\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, '')).sort();
}

async function tables(db: Db): Promise<string[]> {
  const rows = await db('pg_tables').where({ schemaname: 'public' }).whereNot('tablename', 'like', 'knex_%').orderBy('tablename').pluck('tablename');
  return rows as string[];
}

/** Every column, index and trigger of the public schema, to see that a second run changes nothing. */
async function schemaSnapshot(db: Db): Promise<string> {
  const columns = await db('information_schema.columns').where({ table_schema: 'public' })
    .orderBy(['table_name', 'ordinal_position']).select('table_name', 'column_name', 'data_type', 'is_nullable', 'column_default');
  const indexes = await db('pg_indexes').where({ schemaname: 'public' }).orderBy('indexname').select('indexname', 'indexdef');
  const triggers = await db('information_schema.triggers').orderBy(['trigger_name', 'event_manipulation']).select('trigger_name', 'event_manipulation');
  return JSON.stringify({ columns, indexes, triggers });
}

describe('migrations on an empty database', () => {
  let tdb: TestDatabase;
  let owner: Db;
  let service: Db;
  before(async () => {
    tdb = await createTestDatabase({ empty: true });
    owner = createDb({ url: tdb.adminUrl });
    service = createDb({ url: tdb.url });
  });
  after(async () => {
    await Promise.all([owner.destroy(), service.destroy()]);
    await tdb.drop();
  });

  test('migrate applies every migration in order and creates every table', async () => {
    assert.deepEqual(await tables(owner), []);
    const expected = await migrationFiles();
    assert.deepEqual(await migrate(tdb.adminUrl, tdb.url), expected);
    assert.deepEqual(await owner('knex_migrations').orderBy('id').pluck('name'), expected);
    assert.deepEqual(await tables(owner), TABLES);
    const owners = await owner('pg_tables').where({ schemaname: 'public' }).distinct('tableowner').pluck('tableowner');
    assert.deepEqual(owners, [roleOf(tdb.adminUrl)]);
  });

  test('the service role may only read and append to audit_events', async () => {
    assert.deepEqual(await auditExposure(service), { role: roleOf(tdb.url), problems: [] });
    await service('audit_events').insert({
      seq: 1, at: new Date(), actor_sub: 'system:test', action: 'test.appended', outcome: 'allowed', prev_hash: ZERO_HASH, hash: ZERO_HASH,
    });
    assert.equal((await service('audit_events').pluck('seq')).length, 1);
    for (const q of [service('audit_events').update({ action: 'rewritten' }), service('audit_events').del(), service.raw('TRUNCATE audit_events')]) {
      await assert.rejects(q, /permission denied for table audit_events/);
    }
  });

  test('the append-only triggers refuse UPDATE, DELETE and TRUNCATE even to the owner', async () => {
    for (const [op, q] of [['UPDATE', owner('audit_events').update({ action: 'rewritten' })], ['DELETE', owner('audit_events').del()], ['TRUNCATE', owner.raw('TRUNCATE audit_events')]] as const) {
      await assert.rejects(q, new RegExp(`audit_events is append-only: ${op} is not allowed`));
    }
    assert.equal((await owner('audit_events').pluck('seq')).length, 1);
  });

  test('a second migrate is a no-op', async () => {
    const schema = await schemaSnapshot(owner);
    const applied = await owner('knex_migrations').orderBy('id').select('name', 'migration_time');
    assert.deepEqual(await migrate(tdb.adminUrl, tdb.url), []);
    assert.equal(await schemaSnapshot(owner), schema);
    assert.deepEqual(await owner('knex_migrations').orderBy('id').select('name', 'migration_time'), applied);
  });

  test('every migration rolls back, and migrate brings the schema back', async () => {
    const schema = await schemaSnapshot(owner);
    const source = new DirectoryMigrationSource({ serviceRole: roleOf(tdb.url) });
    await owner.migrate.rollback({ migrationSource: source, tableName: 'knex_migrations' }, true);
    assert.deepEqual(await tables(owner), []);
    assert.deepEqual(await owner('knex_migrations').pluck('name'), []);
    assert.equal((await owner.raw<{ rows: unknown[] }>("SELECT 1 FROM pg_proc WHERE proname = 'audit_events_append_only'")).rows.length, 0);

    assert.deepEqual(await migrate(tdb.adminUrl, tdb.url), await migrationFiles());
    assert.equal(await schemaSnapshot(owner), schema);
    assert.deepEqual(await auditExposure(service), { role: roleOf(tdb.url), problems: [] });
  });
});
