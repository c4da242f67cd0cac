import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import pg from 'pg';
import { ensureAnchorKey, keyIdOf, signAnchor } from '../../src/audit/anchors.js';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { hashEvent, jcs } from '../../src/audit/canonical.js';
import { EVENT_COLUMNS, streamEvents } from '../../src/audit/rows.js';
import { verifyTable } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/types.js';
import { auditFixture, event, type AuditFixture } from './support.js';

/**
 * The attacker is the database superuser: triggers off (either way PostgreSQL offers), then any
 * edit. Each scenario gets its own database with 20 events, the last one covered by an anchor.
 */
const EVENTS = 20;

async function seeded(): Promise<AuditFixture & { publicKeyFile: string }> {
  const f = await auditFixture();
  const log = new ChainedAuditLog(f.db);
  await Promise.all(Array.from({ length: EVENTS - 1 }, (_, i) => log.record(event(i + 1))));
  await log.close();
  const key = await ensureAnchorKey(f.keyFile, true);
  const anchor = await signAnchor(f.db, f.store, f.keyFile);
  assert.equal(anchor?.seq, EVENTS, 'the anchor covers every event, its own included');
  const clean = await verifyTable(f.db, f.store, key.publicKeyFile);
  assert.equal(clean.ok, true, clean.reason);
  assert.equal(clean.anchorsMatched, 1);
  return { ...f, publicKeyFile: key.publicKeyFile };
}

async function asSuperuser(f: AuditFixture, how: 'replica' | 'disable', ...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: f.tdb.superuserUrl });
  await client.connect();
  try {
    if (how === 'replica') await client.query('SET session_replication_role = replica');
    else await client.query('ALTER TABLE audit_events DISABLE TRIGGER ALL');
    for (const s of statements) await client.query(s);
    if (how === 'disable') await client.query('ALTER TABLE audit_events ENABLE TRIGGER ALL');
  } finally {
    await client.end();
  }
}

async function expectFailureAt(f: AuditFixture & { publicKeyFile: string }, seq: number, reason: RegExp): Promise<void> {
  const result = await verifyTable(f.db, f.store, f.publicKeyFile);
  assert.equal(result.ok, false, 'tampering went unnoticed');
  assert.equal(result.firstBadSeq, seq, result.reason);
  assert.match(result.reason ?? '', reason);
}

describe('a database superuser cannot change the log unnoticed', () => {
  const edits: [string, string][] = [
    ['actor', `UPDATE audit_events SET actor_sub = 'someone-else' WHERE seq = 7`],
    ['time', `UPDATE audit_events SET at = at + interval '1 second' WHERE seq = 7`],
    ['time below a millisecond', `UPDATE audit_events SET at = at + interval '1 microsecond' WHERE seq = 7`],
    ['outcome', `UPDATE audit_events SET outcome = 'denied' WHERE seq = 7`],
    ['details', `UPDATE audit_events SET details = details || '{"n": 8}' WHERE seq = 7`],
    ['a null field', `UPDATE audit_events SET ip = NULL WHERE seq = 7`],
    ['the stored hash', `UPDATE audit_events SET hash = repeat('a', 64) WHERE seq = 7`],
  ];
  for (const [field, statement] of edits) {
    test(`changing ${field} of one event names its seq`, async () => {
      const f = await seeded();
      try {
        await asSuperuser(f, 'replica', statement);
        await expectFailureAt(f, 7, /event 7/);
      } finally {
        await f.close();
      }
    });
  }

  test('deleting the last event (triggers disabled) names its seq', async () => {
    const f = await seeded();
    try {
      await asSuperuser(f, 'disable', `DELETE FROM audit_events WHERE seq = ${EVENTS}`);
      await expectFailureAt(f, EVENTS, /were removed/);
    } finally {
      await f.close();
    }
  });

  test('deleting the last event and letting the service write on is caught by the anchor', async () => {
    const f = await seeded();
    try {
      await asSuperuser(f, 'replica', `DELETE FROM audit_events WHERE seq = ${EVENTS}`);
      const log = new ChainedAuditLog(f.db);
      await log.record(event(99));
      await log.close();
      await expectFailureAt(f, EVENTS, /does not match the anchor/);
    } finally {
      await f.close();
    }
  });

  test('deleting an event in the middle names it', async () => {
    const f = await seeded();
    try {
      await asSuperuser(f, 'replica', 'DELETE FROM audit_events WHERE seq = 5');
      await expectFailureAt(f, 5, /missing/);
    } finally {
      await f.close();
    }
  });

  test('truncating the whole table is caught by the anchor', async () => {
    const f = await seeded();
    try {
      await asSuperuser(f, 'disable', 'TRUNCATE audit_events');
      await expectFailureAt(f, 1, /were removed/);
    } finally {
      await f.close();
    }
  });

  test('rewriting an event and re-chaining every later hash is caught by the anchor', async () => {
    const f = await seeded();
    try {
      const events: AuditEvent[] = [];
      for await (const e of streamEvents(f.db, (trx) => trx('audit_events').select(trx.raw(EVENT_COLUMNS)).orderBy('audit_events.seq'))) events.push(e);
      const updates: string[] = [];
      let prevHash = (events[5] as AuditEvent).hash;
      for (const e of events.slice(6)) {
        const forged = { ...e, prevHash, actorSub: e.seq === 7 ? 'someone-else' : e.actorSub };
        prevHash = hashEvent(forged);
        updates.push(`UPDATE audit_events SET actor_sub = '${forged.actorSub}', prev_hash = '${forged.prevHash}', hash = '${prevHash}' WHERE seq = ${e.seq}`);
      }
      await asSuperuser(f, 'replica', ...updates);
      await expectFailureAt(f, EVENTS, /history was rewritten/);
    } finally {
      await f.close();
    }
  });

  test('a forged anchor is refused: signatures need the key outside the database', async () => {
    const f = await seeded();
    try {
      const forger = generateKeyPairSync('ed25519');
      const body = { at: '2030-01-01T00:00:00.000Z', hash: 'b'.repeat(64), seq: 3 };
      const signature = sign(null, Buffer.from(`callvault-audit-anchor-v1\n${jcs(body)}`), forger.privateKey).toString('base64');
      await f.store.put('audit-anchors/00000000000000000003-forged.json', Buffer.from(JSON.stringify({ ...body, signature, keyId: keyIdOf(forger.publicKey) })));
      await expectFailureAt(f, 3, /unknown key/);
    } finally {
      await f.close();
    }
  });

  test('an anchor edited in the store fails its signature', async () => {
    const f = await seeded();
    try {
      for await (const info of f.store.list('audit-anchors/')) {
        const chunks: Buffer[] = [];
        for await (const c of await f.store.get(info.key)) chunks.push(c as Buffer);
        const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { hash: string };
        await f.store.put(info.key, Buffer.from(JSON.stringify({ ...doc, hash: 'c'.repeat(64) })));
      }
      await expectFailureAt(f, EVENTS, /signature is invalid/);
    } finally {
      await f.close();
    }
  });
});
