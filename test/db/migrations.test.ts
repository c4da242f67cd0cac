import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDb } from '../../src/db/knex.js';
import { createTestDatabase } from '../helpers/cluster.js';

test('each test file gets a migrated database reachable by the service role', async () => {
  const tdb = await createTestDatabase();
  const db = createDb({ url: tdb.url });
  try {
    const rows = await db('recordings').count<{ count: number }[]>('* as count');
    assert.equal(Number(rows[0]?.count), 0);
    const tz = await db.raw<{ rows: { tz: string }[] }>('select current_setting(\'TimeZone\') as tz');
    assert.equal(tz.rows[0]?.tz, 'UTC');
  } finally {
    await db.destroy();
    await tdb.drop();
  }
});
