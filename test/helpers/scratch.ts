import { chmod, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * A scratch directory for an embedded database. mkdtemp makes it 0700; when the suite runs as
 * root the server runs as the "postgres" system user, and a directory that user can enter keeps
 * the cluster inside the scratch directory, where the test's cleanup removes it.
 */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(dir, 0o711);
  return dir;
}
