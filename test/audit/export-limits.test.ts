import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/schema.js';
import { request } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { sql } from './support.js';

/** More NDJSON than the socket buffers of both ends hold, so a client that never reads keeps the cursor open. */
const ROWS = 50_000;

interface StalledClient {
  readonly socket: tls.TLSSocket;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
}

/** Asks for the export and never reads a byte of the answer. */
async function stalledExport(vault: TestVault, token: string): Promise<StalledClient> {
  const url = new URL(vault.url);
  const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: vault.ca, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`GET /v1/audit-events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  socket.pause();
  return { socket, closed };
}

/** Database sessions holding an export cursor open, whatever pool they came from. */
async function exportCursors(vault: TestVault): Promise<number> {
  const rows = await sql<{ n: string }>(vault.database.superuserUrl, `SELECT count(*)::text AS n FROM pg_stat_activity
    WHERE datname = $1 AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction') AND query ILIKE 'select seq::text%'`, [vault.database.name]);
  return Number(rows[0]?.n ?? 0);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('audit exports cannot starve the vault', () => {
  let vault: TestVault;
  const stalled: StalledClient[] = [];
  before(async () => {
    vault = await startVault({
      env: {
        DATABASE_POOL_MAX: '3', DATABASE_CONNECT_TIMEOUT_MS: '1000', AUDIT_EXPORT_POOL_MAX: '5', AUDIT_EXPORT_MAX_CONCURRENT: '2',
        AUDIT_EXPORT_IDLE_TIMEOUT: 'PT8S', HTTP_IDLE_BODY_TIMEOUT_MS: '120000',
      },
    });
    await sql(vault.database.adminUrl, `INSERT INTO audit_events (seq, at, tenant, actor_sub, actor_role, action, outcome, ip, user_agent,
        request_id, details, prev_hash, hash)
      SELECT g, timestamptz '2026-01-01' + g * interval '1 millisecond', 'acme', 'user-' || (g % 97), 'supervisor', 'recording.viewed',
        'allowed', '203.0.113.7', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'req-' || g,
        jsonb_build_object('n', g, 'note', repeat('x', 200)), md5(g::text) || md5(g::text), md5((g + 1)::text) || md5(g::text)
      FROM generate_series(1, ${ROWS}) g`);
  });
  after(async () => {
    for (const c of stalled) c.socket.destroy();
    await vault.close();
  });

  test('stalled exports hold only the export pool: audited routes keep answering, and a third export of one principal is 429', async () => {
    const compA = await vault.token('compliance', { sub: 'comp-a' });
    const compB = await vault.token('compliance', { sub: 'comp-b' });
    for (const token of [compA, compA, compB, compB]) stalled.push(await stalledExport(vault, token));
    // Four cursors open and not being read: more than the whole main pool (3).
    await waitFor(async () => (await exportCursors(vault)) >= 4, 10_000);

    const supervisor = await vault.token('supervisor');
    const answers = await Promise.all(Array.from({ length: 6 }, () => request(vault, { path: '/v1/recordings', token: supervisor })));
    for (const res of answers) assert.equal(res.status, 200, res.body.toString());
    const listed = await vault.deps.db('audit_events').where({ action: 'recording.listed' }).count<Array<{ count: string }>>('seq as count');
    assert.equal(Number(listed[0]?.count), 6, 'every audited request wrote its event');

    const third = await request(vault, { path: '/v1/audit-events?action=audit.exported', token: compA });
    assert.equal(third.status, 429, third.body.toString());
    assertContract('GET', '/v1/audit-events', third);
    assert.match(String(third.headers['content-type']), /^application\/problem\+json/);
    assert.match(String(third.headers['retry-after']), /^[1-9]\d*$/);
    assert.equal(third.json().code, 'too_many_exports');
    const other = await request(vault, { path: '/v1/audit-events?action=recording.listed', token: await vault.token('compliance', { sub: 'comp-c' }) });
    assert.equal(other.status, 200, 'other principals are not affected');
    const lines = other.body.toString().trimEnd().split('\n');
    assert.equal(lines.filter((l) => !l.startsWith('{"checkpoint":')).length, 6);
    assert.match(lines.at(-1) ?? '', /^\{"checkpoint":/, 'the export ends with its checkpoint');
  });

  test('an export whose client reads nothing for AUDIT_EXPORT_IDLE_TIMEOUT is cut off and its connection returned', async () => {
    assert.ok(stalled.length === 4, 'the stalled clients of the previous test');
    const released = await waitFor(async () => (await exportCursors(vault)) === 0, 20_000);
    assert.ok(released, `cursors still open: ${await exportCursors(vault)}`);
    // The server has closed them: reading now drains what was in flight and then meets the end.
    for (const c of stalled) c.socket.resume();
    const ended = await Promise.race([Promise.all(stalled.map((c) => c.closed)).then(() => true), new Promise((r) => setTimeout(r, 10_000, false))]);
    assert.ok(ended, 'the stalled connections were closed by the server');
    const again = await request(vault, { path: '/v1/audit-events?action=audit.exported', token: await vault.token('compliance', { sub: 'comp-a' }) });
    assert.equal(again.status, 200, 'the cut-off exports gave their slots back');
  });
});

test('AUDIT_EXPORT_IDLE_TIMEOUT is a timeout of hours, minutes and seconds', () => {
  assert.equal(loadConfig({ AUDIT_EXPORT_IDLE_TIMEOUT: 'PT90S' }).audit.exportIdleTimeoutMs, 90_000);
  assert.equal(loadConfig({}).audit.exportIdleTimeoutMs, 60_000);
  for (const bad of ['P1D', 'P1M', 'PT25H', 'soon']) {
    assert.throws(() => loadConfig({ AUDIT_EXPORT_IDLE_TIMEOUT: bad }), (err: unknown) => err instanceof ConfigError && err.variable === 'AUDIT_EXPORT_IDLE_TIMEOUT', bad);
  }
});
