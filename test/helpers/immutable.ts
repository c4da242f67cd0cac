/**
 * Makes a directory refuse changes to its entries for the length of `fn`, so that unlink inside it
 * fails with EPERM. Tests run as root, where a mode of 0500 stops nothing: the inode's immutable
 * flag (chattr +i) binds root too. Without chattr (or a filesystem that has the flag) and not
 * running as root, the directory's mode is used instead.
 */
import { execFile } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function withImmutableDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const root = process.getuid?.() === 0;
  if (root) await run('chattr', ['+i', dir]);
  else await chmod(dir, 0o500);
  try {
    return await fn();
  } finally {
    if (root) await run('chattr', ['-i', dir]);
    else await chmod(dir, 0o700);
  }
}
