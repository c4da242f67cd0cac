import { promises as fs } from 'node:fs';
import { KeyConfigError } from './errors.js';

export const MASTER_KEY_BYTES = 32;
// Mode bits are not meaningful on Windows; there the directory's ACL is the operator's job.
export const CHECK_MODES = process.platform !== 'win32';

/** Reads one master key file, refusing anything but exactly 32 raw bytes readable by the owner alone. */
export async function readMasterKey(file: string): Promise<Buffer> {
  // One descriptor for the checks and the read, so the file cannot be swapped in between.
  const handle = await fs.open(file, 'r');
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new KeyConfigError(`Master key ${file} is not a regular file`);
    if (CHECK_MODES && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new KeyConfigError(`Master key ${file} has mode ${mode}; it must be 0600 or stricter`);
    }
    if (st.size !== MASTER_KEY_BYTES) {
      throw new KeyConfigError(`Master key ${file} must hold exactly ${MASTER_KEY_BYTES} raw bytes`);
    }
    const key = await handle.readFile();
    if (key.length !== MASTER_KEY_BYTES) {
      key.fill(0);
      throw new KeyConfigError(`Master key ${file} must hold exactly ${MASTER_KEY_BYTES} raw bytes`);
    }
    return key;
  } finally {
    await handle.close();
  }
}

/** Makes a rename or link in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
