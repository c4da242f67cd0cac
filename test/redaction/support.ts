/** Shared pieces of the redaction tests. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { decodeAudio } from '../../src/audio/index.js';
import { createObjectDecryptStream } from '../../src/crypto/index.js';
import { openPlayback } from '../../src/media/playback.js';
import type { Recording } from '../../src/recordings/types.js';
import type { HttpResponse } from '../helpers/http.js';
import type { TestVault } from '../helpers/vault.js';
import { json } from '../retention/support.js';

export { auditEvents, childEnv, json, runCli, superuser, upload, waitFor, type Receipt } from '../retention/support.js';

export interface RedactionReceipt {
  id: string; recordingId: string; version: number; category: string; fill: string; ranges: Array<{ startMs: number; endMs: number; channel?: number }>;
  sha256: string; sizeBytes: number; contentType: string; previousSha256: string; previousSizeBytes: number; originalKept: boolean;
  requestedBy: string; approvedBy: string | null;
}

export interface Order { ranges: Array<{ startMs: number; endMs: number; channel?: number }>; fill: 'silence' | 'tone'; reason: string; category: 'pci' | 'pii' }

export function pci(startMs: number, endMs: number, extra: Partial<Order> = {}): Order {
  return { ranges: [{ startMs, endMs }], fill: 'silence', reason: 'card number read out', category: 'pci', ...extra };
}

export async function postRedaction(vault: TestVault, id: string, order: unknown, token?: string): Promise<HttpResponse> {
  return json(vault, 'POST', `/v1/recordings/${id}/redactions`, token ?? await vault.token('compliance'), order);
}

export async function current(vault: TestVault, id: string): Promise<Recording> {
  const r = await vault.deps.recordings.findActive('acme', id);
  assert.ok(r, `recording ${id} is active`);
  return r;
}

export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The current version's plaintext, decrypted the way playback does. */
export async function plaintextOf(vault: TestVault, id: string): Promise<Buffer> {
  return readAll(await openPlayback(vault.deps, await current(vault, id)));
}

/** All samples of some audio, joined per channel. */
export async function decode(bytes: Buffer, contentType: string): Promise<{ sampleRate: number; channels: Float32Array[] }> {
  const parts: Float32Array[][] = [];
  let sampleRate = 0;
  for await (const block of decodeAudio(Readable.from([bytes]), contentType)) {
    sampleRate = block.sampleRate;
    parts.push(block.channels.map((c) => Float32Array.from(c)));
  }
  const count = parts[0]?.length ?? 0;
  const frames = parts.reduce((n, p) => n + (p[0]?.length ?? 0), 0);
  const channels = Array.from({ length: count }, (_, c) => {
    const out = new Float32Array(frames);
    let at = 0;
    for (const p of parts) { const src = p[c] ?? new Float32Array(0); out.set(src, at); at += src.length; }
    return out;
  });
  return { sampleRate, channels };
}

/** Every file under `dir`, recursively. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isDirectory()) out.push(...await filesUnder(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/**
 * Looks for `window` everywhere the vault keeps bytes of a recording: every file of the data
 * directory (and of the S3 server's) as it is on disk, and every stored object decrypted with every data key the database
 * still holds for it (recordings and sealed originals), unwrapped through the key service.
 * Returns where it was found.
 */
export async function findWindow(vault: TestVault, recordingId: string, window: Buffer): Promise<string[]> {
  const found: string[] = [];
  const dirs = [vault.dataDir, ...(vault.s3 ? [vault.s3.directory] : [])];
  for (const file of (await Promise.all(dirs.map(filesUnder))).flat()) {
    if ((await readFile(file)).includes(window)) found.push(file);
  }
  const keys = await vault.deps.db.raw<{ rows: Array<{ wrapped_key: Buffer; key_ref: string; size_bytes: string }> }>(`
    SELECT wrapped_key, key_ref, size_bytes FROM recordings WHERE id = ? AND wrapped_key IS NOT NULL
    UNION ALL SELECT wrapped_key, key_ref, size_bytes FROM redaction_originals WHERE recording_id = ? AND wrapped_key IS NOT NULL`, [recordingId, recordingId]);
  for await (const object of vault.deps.store.list('recordings/')) {
    const ciphertext = await readAll(await vault.deps.store.get(object.key));
    for (const k of keys.rows) {
      const key = await vault.deps.keys.decryptDataKey(k.wrapped_key, { tenant: 'acme', recordingId }, k.key_ref);
      const plain = await readAll(Readable.from([ciphertext]).pipe(createObjectDecryptStream({ key, recordingId, plaintextSize: Number(k.size_bytes) }))).catch(() => null);
      if (plain?.includes(window)) found.push(`${object.key} (decrypted)`);
    }
  }
  return found;
}
