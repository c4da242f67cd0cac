import { open } from 'node:fs/promises';

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * fsync of a directory, shared by concurrent callers (group commit): a caller joins the next
 * fsync that starts after it asked, never one already running, which might have begun before its
 * rename. Under many concurrent puts into one tenant's directory this makes one or two directory
 * fsyncs per batch instead of one per put.
 */
export class DirSyncer {
  private readonly dirs = new Map<string, { tail: Promise<void>; queued: Promise<void> | null }>();

  constructor(private readonly syncOne: (dir: string) => Promise<void> = syncDir) {}

  sync(dir: string): Promise<void> {
    let entry = this.dirs.get(dir);
    if (!entry) {
      entry = { tail: Promise.resolve(), queued: null };
      this.dirs.set(dir, entry);
    }
    if (entry.queued) return entry.queued;
    const slot = entry;
    const run = slot.tail.then(() => {
      slot.queued = null; // started: whoever asks from now on needs the next one
      return this.syncOne(dir);
    });
    const tail = run.catch(() => undefined);
    slot.queued = run;
    slot.tail = tail;
    void tail.then(() => {
      if (slot.tail === tail && slot.queued === null) this.dirs.delete(dir);
    });
    return run;
  }
}
