/**
 * The build migrates too: `callvault migrate` run from compiled JavaScript (as `npm start` and the
 * container run it) finds dist/migrations/*.js, applies them to an empty database and leaves the
 * same schema and migration names as the TypeScript sources do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { buildVault } from '../../bench/lib/build.js';
import { APP_ROLE, clusterInfo, clusterUrl, OWNER_ROLE } from '../helpers/cluster.js';

const run = promisify(execFile);

async function superuser(database: string, sql: string[]): Promise<void> {
  const c = new pg.Client({ connectionString: clusterUrl(clusterInfo(), database, 'superuser') });
  await c.connect();
  try {
    for (const statement of sql) await c.query(statement);
  } finally {
    await c.end();
  }
}

test('callvault migrate from the compiled build applies dist/migrations/*.js to an empty database', async () => {
  const bin = await buildVault();
  const compiled = (await readdir(path.join(path.dirname(bin), '..', 'dist', 'migrations'))).filter((f) => f.endsWith('.js')).sort();
  const sources = (await readdir(path.resolve(import.meta.dirname, '../../migrations'))).filter((f) => f.endsWith('.ts')).sort();
  assert.deepEqual(compiled, sources.map((f) => f.replace(/\.ts$/, '.js')));

  const name = `compiled_${process.pid}`;
  const info = clusterInfo();
  await superuser('postgres', [`DROP DATABASE IF EXISTS ${name}`, `CREATE DATABASE ${name} OWNER ${OWNER_ROLE} TEMPLATE template0`]);
  try {
    await superuser(name, [`ALTER SCHEMA public OWNER TO ${OWNER_ROLE}`, `GRANT USAGE ON SCHEMA public TO ${APP_ROLE}`]);
    const env = {
      PATH: process.env.PATH ?? '', DATABASE_ADMIN_URL: clusterUrl(info, name, 'owner'), DATABASE_URL: clusterUrl(info, name, 'app'),
      CALLVAULT_DATA_DIR: path.join(path.dirname(bin), '..', 'unused-data'), LOG_LEVEL: 'warn',
    };
    const first = await run(process.execPath, [bin, 'migrate'], { env });
    assert.match(first.stdout, new RegExp(`^applied ${sources.length} migration\\(s\\): ${sources.map((f) => f.replace(/\.ts$/, '')).join(', ')}\\n$`));
    const again = await run(process.execPath, [bin, 'migrate'], { env });
    assert.equal(again.stdout, 'database schema is up to date\n');

    const app = new pg.Client({ connectionString: env.DATABASE_URL });
    await app.connect();
    try {
      const { rows } = await app.query<{ n: string }>('SELECT count(*) AS n FROM recordings');
      assert.equal(rows[0]?.n, '0', 'the service role reads the schema the compiled migrations made');
    } finally {
      await app.end();
    }
  } finally {
    await superuser('postgres', [`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
  }
});
