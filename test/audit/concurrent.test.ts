import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { verifyTable } from '../../src/audit/verify.js';
import { auditFixture, sql } from './support.js';

const WRITER = path.join(import.meta.dirname, 'concurrent-writer.ts');
const PER_PROCESS = 300;

function startWriter(url: string, label: string): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, url, label, String(PER_PROCESS)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => { text += c; });
  const output = once(child, 'exit').then(([code]) => {
    assert.equal(code, 0, `writer ${label} exited with ${String(code)}: ${text}`);
    return text;
  });
  return { child, output };
}

function waitFor(child: ChildProcess, line: string): Promise<void> {
  // Listening, not async-iterating: leaving a for-await loop would destroy the child's stdout.
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: string): void => {
      seen += chunk;
      if (!seen.includes(line)) return;
      child.stdout?.off('data', onData);
      resolve();
    };
    child.stdout?.on('data', onData);
    child.once('exit', () => reject(new Error(`writer ended before printing "${line}"`)));
  });
}

test('two processes writing at once leave one chain that verifies', async () => {
  const f = await auditFixture();
  try {
    const writers = [startWriter(f.tdb.url, 'alpha'), startWriter(f.tdb.url, 'beta')];
    await Promise.all(writers.map((w) => waitFor(w.child, 'ready')));
    for (const w of writers) w.child.stdin?.end('go\n');
    const outputs = await Promise.all(writers.map((w) => w.output));
    for (const out of outputs) assert.match(out, new RegExp(`done ${PER_PROCESS}`));

    const result = await verifyTable(f.db, undefined);
    assert.equal(result.ok, true, result.reason);
    assert.equal(result.checked, 2 * PER_PROCESS);
    assert.equal(result.lastSeq, 2 * PER_PROCESS);
    const perWriter = await sql<{ writer: string; n: string; first: string; last: string }>(f.tdb.superuserUrl,
      `SELECT details->>'writer' AS writer, count(*) AS n, min(seq) AS first, max(seq) AS last FROM audit_events GROUP BY 1 ORDER BY 1`);
    assert.deepEqual(perWriter.map((r) => [r.writer, Number(r.n)]), [['alpha', PER_PROCESS], ['beta', PER_PROCESS]]);
    // Interleaved, not one after the other: the writers really overlapped.
    const [alpha, beta] = perWriter;
    assert.ok(Number(alpha?.first) < Number(beta?.last) && Number(beta?.first) < Number(alpha?.last), JSON.stringify(perWriter));
  } finally {
    await f.close();
  }
});
