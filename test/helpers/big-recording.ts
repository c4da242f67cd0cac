import type { Hash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { mintDevToken } from '../../src/auth/dev-issuer.js';
import type { Role } from '../../src/auth/permissions.js';
import { loadConfig } from '../../src/config/config.js';
import { wavHeader } from './audio.js';
import { createTestDatabase } from './cluster.js';
import { spawnVault, type VaultProcess } from './process.js';

/**
 * For the memory tests: recordings far larger than a test could hold, and a vault in a process
 * of its own, whose peak RSS is then the server's alone.
 */

/** A WAV header followed by generated PCM, never held in memory; hashed into `hash` as it is produced. */
export function generatedWav(totalBytes: number, hash?: Hash): Readable {
  const header = wavHeader(totalBytes - 44);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7919) & 0xff;
  let sent = 0;
  return new Readable({
    read() {
      const piece = sent === 0 ? header : chunk.subarray(0, Math.min(chunk.length, totalBytes - sent));
      if (piece.length === 0) { this.push(null); return; }
      sent += piece.length;
      hash?.update(piece);
      this.push(piece);
    },
  });
}

export interface MemoryVault {
  readonly vault: VaultProcess;
  /** A development token of tenant acme for `role`. */
  token(role: Role): Promise<string>;
  close(): Promise<void>;
}

/** An embedded-mode vault process on a fresh database and data directory, without background workers. */
export async function startMemoryVault(): Promise<MemoryVault> {
  const db = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'callvault-mem-'));
  const close = async (): Promise<void> => {
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  let vault: VaultProcess;
  try {
    vault = await spawnVault({ CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: db.url, DATABASE_ADMIN_URL: db.adminUrl, RETENTION_INTERVAL: 'off', AUDIT_ANCHOR_INTERVAL: 'off' });
  } catch (err) {
    await close();
    throw err;
  }
  const config = loadConfig({ CALLVAULT_DATA_DIR: dataDir, DATABASE_URL: db.url });
  const devKey = config.jwt.devSigningKey?.file;
  if (!devKey) throw new Error('embedded mode has a development signing key');
  return {
    vault,
    token: (role) => mintDevToken(devKey, { tenant: 'acme', roles: [role], sub: `${role}-1`, issuer: config.jwt.issuer, audience: config.jwt.audience }),
    close: async () => {
      await vault.stop();
      await close();
    },
  };
}
