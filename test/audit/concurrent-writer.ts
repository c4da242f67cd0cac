/**
 * Child process for concurrent.test.ts: one "API replica" writing audit events.
 * Usage: node --import tsx test/audit/concurrent-writer.ts <databaseUrl> <label> <count>
 * Waits for "go" on stdin so that both replicas start together, then prints "done <n>".
 */
import { once } from 'node:events';
import { ChainedAuditLog } from '../../src/audit/chain-writer.js';
import { createDb } from '../../src/db/knex.js';
import { event } from './support.js';

const [url, label, countText] = process.argv.slice(2);
if (!url || !label || !countText) throw new Error('usage: concurrent-writer.ts <url> <label> <count>');
const count = Number(countText);

const db = createDb({ url, poolMax: 8 });
const log = new ChainedAuditLog(db);
process.stdout.write('ready\n');
await once(process.stdin, 'data');
process.stdin.destroy();

let written = 0;
const inFlight = new Set<Promise<void>>();
for (let i = 0; i < count; i++) {
  const input = event(i, { actorSub: `${label}-${i}`, details: { writer: label, i } });
  // Every tenth event goes through a caller transaction, the rest through group commit.
  const p = i % 10 === 0
    ? db.transaction((trx) => log.record(input, trx))
    : log.record(input);
  const tracked = p.then(() => { written += 1; }).finally(() => { inFlight.delete(tracked); });
  inFlight.add(tracked);
  if (inFlight.size >= 16) await Promise.race(inFlight);
}
await Promise.all(inFlight);
await log.close();
await db.destroy();
process.stdout.write(`done ${written}\n`);
