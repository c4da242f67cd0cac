import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
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
    const st = await stat(secret.file);
    if ((st.mode & 0o077) !== 0) throw new ConfigError(variable, `${secret.file} must not be readable by group or others (chmod 600)`);
    text = (await readFile(secret.file, 'utf8')).trim();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(variable, `cannot read ${secret.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const key = /^[0-9a-fA-F]+$/.test(text) && text.length >= 64 ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length < 32) throw new ConfigError(variable, `${secret.file} must hold at least 32 random bytes (base64 or hex)`);
  return key;
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
