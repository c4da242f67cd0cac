import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import type { SecretFile } from '../config/config.js';
import { readPrivateFile } from '../config/secrets.js';
import type { Role } from './permissions.js';

/**
 * The development issuer: an ES256 key pair created on first start in embedded mode (or read
 * from JWT_DEV_SIGNING_KEY_FILE), so that a first run and the tests can mint tokens without an
 * identity provider. A production deployment verifies tokens from its own issuer instead.
 */
export async function ensureDevSigningKey(secret: SecretFile): Promise<void> {
  try {
    await readPrivateFile(secret.file, 'JWT_DEV_SIGNING_KEY_FILE');
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !secret.generate) throw err;
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await mkdir(path.dirname(secret.file), { recursive: true, mode: 0o700 });
  await writeFile(secret.file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

export interface MintOptions {
  readonly tenant: string;
  readonly roles: readonly Role[];
  readonly sub: string;
  readonly ttlSeconds?: number;
  readonly issuer: string;
  readonly audience: string;
}

export async function mintDevToken(keyFile: string, opts: MintOptions): Promise<string> {
  const key = createPrivateKey(await readPrivateFile(keyFile, 'JWT_DEV_SIGNING_KEY_FILE'));
  return jwt.sign({ tenant: opts.tenant, roles: opts.roles }, key, {
    algorithm: 'ES256',
    subject: opts.sub,
    issuer: opts.issuer,
    audience: opts.audience,
    expiresIn: opts.ttlSeconds ?? 3600,
    jwtid: randomUUID(),
  });
}
