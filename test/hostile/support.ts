/** Running lists of cases against the hostile vault and checking it survived them. */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describeFailure, runCase, type HostileCase } from './corpus.js';
import { exchange } from './raw-client.js';
import type { HostileVault } from './vault.js';

/** The vault still answers: no crash, no wedged event loop. */
export async function assertAlive(h: HostileVault): Promise<void> {
  const res = await exchange(h.vault, [Buffer.from('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')], { timeoutMs: 5_000 });
  assert.equal(res.response?.status, 200, `GET /healthz after the corpus: ${res.received.toString('latin1').slice(0, 200)}`);
}

/** Runs every case (a few at a time) and returns one line per case that broke the contract. */
export async function runCases(h: HostileVault, cases: readonly HostileCase[], parallel = 4): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++];
      if (!c) return;
      const result = await runCase(h.vault, c);
      if (result.failures.length > 0) failures.push(describeFailure(c, result));
      if (c.leavesNoRecording) {
        const kept = await noRecordingAfterwards(h, c.leavesNoRecording);
        if (kept) failures.push(`${c.name}: a recording was kept for callId ${c.leavesNoRecording}`);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return failures;
}

/** A recording could only appear once its body was complete; give the server time to get that wrong. */
async function noRecordingAfterwards(h: HostileVault, callId: string): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 300));
  return (await h.vault.deps.recordings.findByCallId('acme', callId)) !== null;
}

/**
 * Staged uploads that were neither committed nor discarded: a handler still waiting on a body
 * that will never come leaves its temp file in the filesystem store's `.tmp`. Polls until the
 * directory is empty or `waitMs` passes, then returns what is left.
 */
export async function leftoverTempFiles(h: HostileVault, waitMs = 5_000): Promise<string[]> {
  const storage = h.vault.config.storage;
  if (storage.driver !== 'fs') throw new Error('the hostile vault uses the filesystem store');
  const tmp = path.join(storage.root, '.tmp');
  const deadline = Date.now() + waitMs;
  for (;;) {
    const left = await readdir(tmp).catch(() => []);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Log lines at error level or above (pino levels): a 4xx is never an internal error. */
export function errorLogLines(lines: readonly string[]): string[] {
  return lines.filter((line) => {
    try {
      return ((JSON.parse(line) as { level?: number }).level ?? 0) >= 50;
    } catch {
      return false;
    }
  });
}
