import { randomBytes } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './schema.js';
import type { SecretFile } from './config.js';

/**
 * A symmetric secret kept in a file as base64 text (at least 32 bytes once decoded). Embedded
 * mode creates it on first start with mode 0600; a configured file must already exist and must
 * not be readable by other users.
 */
export async function loadSecret(secret: SecretFile, variable: string, bytes = 32): Promise<Buffer> {
  if (secret.generate) await createIfMissing(secret.file, () => randomBytes(bytes).toString('base64') + '\n');
  let text: string;
  try {
    text = (await readPrivateFile(secret.file, variable)).toString('utf8').trim();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(variable, `cannot read ${secret.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const key = /^[0-9a-fA-F]+$/.test(text) && text.length >= 64 ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length < 32) throw new ConfigError(variable, `${secret.file} must hold at least 32 random bytes (base64 or hex)`);
  return key;
}

// Mode bits are not meaningful on Windows; there the file's ACL is the operator's job.
const CHECK_MODES = process.platform !== 'win32';

/**
 * Reads a file holding a secret or a private key (link and phone keys, the TLS key, the audit
 * anchor key, the development JWT signing key), refusing it when group or others may read it.
 * One descriptor serves the check and the read, so the file cannot be swapped in between.
 * Errors opening the file (ENOENT, EACCES) are passed on as they are.
 */
export async function readPrivateFile(file: string, variable: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ConfigError(variable, `${file} is not a regular file`);
    if (CHECK_MODES && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new ConfigError(variable, `${file} has mode ${mode}: a private key must not be readable by group or others (chmod 600)`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Writes a new file exclusively, so two processes starting at once agree on one secret. */
export async function createIfMissing(file: string, content: () => string | Buffer): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, content(), { mode: 0o600, flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}
