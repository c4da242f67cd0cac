import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { ensureAnchorKey } from '../../src/audit/anchors.js';
import { AuditCheckpoints } from '../../src/audit/checkpoints.js';
import { TenantAuditLog } from '../../src/audit/log-writer.js';
import { verifyLogExport } from '../../src/audit/log-verify.js';
import { AuditLogRegistry } from '../../src/audit/logs.js';
import { handleAuditExport, type AuditRouteContext } from '../../src/audit/routes.js';
import { AppError } from '../../src/errors.js';
import { APP_ROLE } from '../helpers/cluster.js';
import { auditFixture, event, sql, type AuditFixture } from './support.js';

const NAMESPACE = 'callvault.example.com/test';

function buildApp(f: AuditFixture, log: TenantAuditLog): express.Express {
  const app = express();
  app.get('/v1/audit-events', async (req: Request, res: Response) => {
    const ctx: AuditRouteContext = {
      principal: { sub: 'carol', tenant: 'acme', roles: (req.get('x-roles') ?? 'compliance').split(',') },
      requestId: 'req-export', ip: '192.0.2.1', userAgent: 'supertest',
    };
    await handleAuditExport(req, res, ctx, {
      db: f.db, audit: log, mainDb: f.db, logs: log.logs, checkpoints: new AuditCheckpoints({ db: f.db, store: f.store, logs: log.logs, anchorKeyFile: f.keyFile, generateAnchorKey: true }),
    });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = err instanceof AppError ? err.status : 500;
    res.status(status).type('application/problem+json').send(JSON.stringify({ status, code: err instanceof AppError ? err.code : 'internal' }));
  });
  return app;
}

interface Line { logSeq: number; tenant: string; action: string; actorSub: string; details: Record<string, unknown>; requestId: string; proof?: unknown }

/** The events of an NDJSON export, and its final checkpoint line. */
function parseExport(text: string): { events: Line[]; checkpoint: string } {
  const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Line & { checkpoint?: string });
  const last = lines.pop();
  assert.equal(typeof last?.checkpoint, 'string', 'the export ends with its checkpoint line');
  return { events: lines, checkpoint: last!.checkpoint! };
}

describe('GET /v1/audit-events', () => {
  let f: AuditFixture;
  let log: TenantAuditLog;
  let app: express.Express;
  before(async () => {
    f = await auditFixture();
    log = new TenantAuditLog(f.db, new AuditLogRegistry(f.db, NAMESPACE));
    for (let i = 1; i <= 10; i++) await log.record(event(i, { tenant: i % 2 ? 'acme' : 'globex' }));
    app = buildApp(f, log);
  });
  after(async () => {
    await log.close();
    await f.close();
  });

  test('streams the tenant NDJSON, uncached, with its own audit.exported event already in it', async () => {
    const res = await request(app).get('/v1/audit-events?action=audit.exported&after=2000-01-01').expect(200);
    assert.equal(res.headers['content-type'], 'application/x-ndjson; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    const { events: lines } = parseExport(res.text);
    assert.equal(lines.length, 1, 'the export event was durable before the query ran');
    assert.ok(lines[0]?.proof, 'a filtered export proves each event');
    assert.equal(lines[0]?.actorSub, 'carol');
    assert.equal(lines[0]?.requestId, 'req-export');
    assert.deepEqual(lines[0]?.details, { format: 'ndjson', action: 'audit.exported', after: '2000-01-01T00:00:00.000Z' });

    const all = await request(app).get('/v1/audit-events').expect(200);
    const { events } = parseExport(all.text);
    assert.ok(events.every((e) => e.tenant === 'acme' && e.proof === undefined));
    assert.deepEqual(events.filter((e) => e.action === 'recording.viewed').map((e) => e.logSeq), [1, 2, 3, 4, 5]);
    assert.deepEqual(events.map((e) => e.logSeq), Array.from({ length: events.length }, (_, i) => i + 1));
    const file = path.join(f.dir, 'route.ndjson');
    await writeFile(file, all.text);
    const verified = await verifyLogExport(file, { publicKey: (await ensureAnchorKey(f.keyFile, false)).publicKey });
    assert.equal(verified.ok, true, verified.reason);
    assert.equal(verified.log.checkpoint?.size, events.length);
  });

  test('CSV', async () => {
    const res = await request(app).get('/v1/audit-events?format=csv&action=recording.viewed').expect(200);
    assert.match(res.headers['content-type'] ?? '', /^text\/csv/);
    assert.equal(res.headers['content-disposition'], 'attachment; filename="audit-events.csv"');
    assert.equal(res.text.trimEnd().split('\r\n').length, 1 + 5);
    assert.match(res.headers.link ?? '', /^<\/v1\/audit-checkpoints\?size=\d+>; rel="checkpoint"$/);
  });

  test('pages by seq in either order, with limit, and filters by outcome; each page proves its events', async () => {
    const page = async (q: string): Promise<Array<Line & { seq: number }>> => {
      const res = await request(app).get(`/v1/audit-events?action=recording.viewed&${q}`).expect(200);
      const { events } = parseExport(res.text);
      assert.ok(events.every((e) => e.proof), `${q}: every event of a page carries its inclusion proof`);
      return events as Array<Line & { seq: number }>;
    };
    const all = await page('outcome=allowed');
    assert.deepEqual(all.map((e) => e.logSeq), [1, 2, 3, 4, 5]);
    const seq = all.map((e) => e.seq);
    const seqs = async (q: string): Promise<number[]> => (await page(q)).map((e) => e.seq);
    assert.deepEqual(await seqs('limit=2'), seq.slice(0, 2));
    assert.deepEqual(await seqs(`limit=2&afterSeq=${seq[1]}`), seq.slice(2, 4));
    assert.deepEqual(await seqs('limit=2&order=desc'), [seq[4], seq[3]]);
    assert.deepEqual(await seqs(`limit=2&order=desc&beforeSeq=${seq[3]}`), [seq[2], seq[1]]);
    assert.deepEqual(await seqs(`afterSeq=${seq[4]}`), []);
    assert.deepEqual(await seqs('outcome=denied'), []);
    const exported = await request(app).get('/v1/audit-events?action=audit.exported&order=desc&limit=1').expect(200);
    assert.equal(parseExport(exported.text).events[0]?.details.limit, 1, 'the paging is on the audit.exported record');
  });

  test('bad query parameters answer 400 and export nothing', async () => {
    for (const q of ['limit=0', 'limit=10001', 'afterSeq=-1', 'beforeSeq=x', 'order=up', 'outcome=maybe', 'after=yesterday', 'before=2026-13-01', 'format=xml', 'action=recording.stolen', 'foo=1',
      'after=2026-02-01&before=2026-01-01', 'from=2026-01-01', 'to=2026-01-01', 'action=media.read&action=link.issued', 'actor=']) {
      const res = await request(app).get(`/v1/audit-events?${q}`);
      assert.equal(res.status, 400, q);
      assert.match(res.text, /invalid_query/);
    }
  });

  test('other roles are refused', async () => {
    await request(app).get('/v1/audit-events').set('x-roles', 'supervisor,admin').expect(403);
  });

  test('fail closed: when audit.exported cannot be written, 503 and no event is served', async () => {
    await sql(f.tdb.superuserUrl, `REVOKE INSERT ON audit_events FROM ${APP_ROLE}`);
    try {
      const res = await request(app).get('/v1/audit-events').expect(503);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.deepEqual(JSON.parse(res.text), { status: 503, code: 'audit_unavailable' });
    } finally {
      await sql(f.tdb.superuserUrl, `GRANT INSERT ON audit_events TO ${APP_ROLE}`);
    }
  });

  test('a client that hangs up mid-export releases the database connection', async () => {
    // Rows of the closed single chain, written past its trigger: the export streams them first.
    await sql(f.tdb.superuserUrl, `SET session_replication_role = replica;
      INSERT INTO audit_events (seq, at, tenant, actor_sub, action, outcome, details, prev_hash, hash)
      SELECT 100000 + g, now(), 'acme', 'bulk', 'media.read', 'allowed', '{}', repeat('0', 64), repeat('0', 64) FROM generate_series(1, 50000) g`);
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ port, host: '127.0.0.1', path: '/v1/audit-events' }, (res) => {
          res.once('data', () => { req.destroy(); resolve(); });
        });
        req.on('error', (err) => { if (!req.destroyed) reject(err); });
      });
      const pool = (f.db.client as unknown as { pool: { numUsed(): number } }).pool;
      const deadline = Date.now() + 5_000;
      while (pool.numUsed() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pool.numUsed(), 0);
      await request(app).get('/v1/audit-events?action=recording.viewed').expect(200);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
