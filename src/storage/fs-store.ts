import { createHash, randomUUID } from 'node:crypto';
import { constants as fsConstants, type Dir } from 'node:fs';
import { access, mkdir, open, opendir, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isErrno } from '../lib/errno.js';
import { ObjectNotFoundError, RangeOutsideObjectError, StorageUnavailableError } from './errors.js';
import { assertValidContentLength, assertValidKey, assertValidPrefix, assertValidRange } from './keys.js';
import { DirSyncer, syncDir } from './dir-sync.js';
import { FileSink } from './file-sink.js';
import { ByteCounter, isBodyFailure, watchBody } from './streams.js';
import {
  type ByteRange,
  type ObjectStore,
  type PutOptions,
  type StoredObjectInfo,
} from './types.js';

/** Temp files live under the root so that rename() never crosses a filesystem. */
const TMP_DIR = '.tmp';

export interface FsObjectStoreOptions {
  root: string;
}

function storageFault(action: string, err: unknown): StorageUnavailableError {
  return new StorageUnavailableError(`Local object store failed to ${action}`, err);
}

/**
 * Objects as plain files under `root`, one file per key. Writes are atomic and durable: a body is
 * streamed to `<root>/.tmp/`, fsynced, renamed into place and its directory fsynced, so a crash
 * leaves either the whole object or nothing visible (plus, at worst, a temp file that
 * sweepTempFiles removes). The filesystem has no versions and no object lock: delete removes the
 * one file and setLegalHold does nothing.
 */
export class FsObjectStore implements ObjectStore {
  readonly driver = 'fs' as const;
  readonly objectLock = false;
  readonly root: string;
  private readonly tmpDir: string;
  private tmpReady: Promise<unknown> | undefined;
  private readonly dirSyncer = new DirSyncer();

  constructor(options: FsObjectStoreOptions) {
    if (!options.root) throw new Error('FsObjectStore needs a root directory');
    this.root = resolve(options.root);
    this.tmpDir = join(this.root, TMP_DIR);
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ sizeBytes: number }> {
    assertValidKey(key);
    assertValidContentLength(opts.contentLength);
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    const bodyState = watchBody(source);
    const tmpPath = join(this.tmpDir, `${tempPrefix(key)}.${randomUUID()}`);
    const target = this.pathOf(key);
    let renamed = false;
    try {
      const sizeBytes = await this.writeTemp(tmpPath, source, opts.contentLength);
      const firstCreated = await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(tmpPath, target);
      renamed = true;
      await this.syncDirsDown(firstCreated, dirname(target));
      return { sizeBytes };
    } catch (err) {
      source.destroy();
      // A put that rejects leaves nothing, even when only the final directory fsync failed.
      await unlink(renamed ? target : tmpPath).catch(() => undefined);
      throw isBodyFailure(err, bodyState.error) ? err : storageFault('store an object', err);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    if (range) assertValidRange(range);
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw new ObjectNotFoundError(key);
      throw storageFault('read an object', err);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new ObjectNotFoundError(key);
      if (!range) return handle.createReadStream();
      if (range.start >= info.size) throw new RangeOutsideObjectError(info.size);
      return handle.createReadStream({ start: range.start, end: Math.min(range.endInclusive, info.size - 1) });
    } catch (err) {
      await handle.close();
      throw err instanceof ObjectNotFoundError || err instanceof RangeOutsideObjectError ? err : storageFault('read an object', err);
    }
  }

  async head(key: string): Promise<StoredObjectInfo | null> {
    assertValidKey(key);
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, sizeBytes: info.size, lastModified: info.mtime } : null;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw storageFault('stat an object', err);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (err) {
      // Only ENOENT proves the object is gone. EPERM, EACCES, EBUSY, EROFS, EISDIR…: the bytes (or
      // whatever sits at the key) are still there, and a caller that took this for success would
      // audit a deletion that did not happen, so it fails and the caller retries.
      if (isErrno(err, 'ENOENT')) return;
      throw storageFault('delete an object', err);
    }
    // Concurrent deletes in one directory (a retention batch) share its next fsync.
    await this.dirSyncer.sync(dirname(path)).catch((err: unknown) => {
      throw storageFault('delete an object', err);
    });
  }

  async *list(prefix: string): AsyncIterable<StoredObjectInfo> {
    assertValidPrefix(prefix);
    // Walk only the deepest directory the prefix names; the rest of the prefix filters names.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    for await (const path of walkFiles(join(this.root, dirPart), dirPart === '' ? this.tmpDir : undefined)) {
      const key = relative(this.root, path).split(sep).join('/');
      if (!key.startsWith(prefix)) continue;
      const info = await stat(path).catch((err: unknown) => {
        if (isErrno(err, 'ENOENT')) return null; // deleted while listing
        throw storageFault('list objects', err);
      });
      if (info?.isFile()) yield { key, sizeBytes: info.size, lastModified: info.mtime };
    }
  }

  async setLegalHold(key: string, _on: boolean): Promise<void> {
    assertValidKey(key);
  }

  async ping(): Promise<void> {
    try {
      await this.ensureTmpDir();
      await access(this.root, fsConstants.W_OK);
      await access(this.tmpDir, fsConstants.W_OK);
    } catch (err) {
      throw new StorageUnavailableError('Local object store root is not writable', err);
    }
  }

  /**
   * Removes temp files older than `olderThanMs`, left behind by a crash in the middle of a put.
   * Younger ones may belong to a put still in progress, and so do those of the keys in `keep`
   * (uploads known to be still streaming, however long they have been idle). Returns how many
   * were removed.
   */
  async sweepTempFiles(olderThanMs: number, keep: ReadonlySet<string> = new Set()): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw storageFault('list temp files', err);
    }
    const cutoff = Date.now() - olderThanMs;
    const kept = new Set([...keep].map(tempPrefix));
    let removed = 0;
    for (const name of names) {
      if (kept.has(name.split('.', 1)[0] ?? '')) continue;
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => null);
      if (!info?.isFile() || info.mtimeMs > cutoff) continue;
      await unlink(path).then(() => removed++, (err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw storageFault('remove a temp file', err);
      });
    }
    return removed;
  }

  private pathOf(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  /** Creates the store's directories (mode 0700) if they are missing; `put` does it too. */
  async prepare(): Promise<void> {
    await this.ensureTmpDir();
  }

  private ensureTmpDir(): Promise<unknown> {
    this.tmpReady ??= mkdir(this.tmpDir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
      this.tmpReady = undefined;
      throw err;
    });
    return this.tmpReady;
  }

  /** Streams source into a new temp file and fsyncs it; returns the byte count. */
  private async writeTemp(tmpPath: string, source: Readable, contentLength: number | undefined): Promise<number> {
    await this.ensureTmpDir();
    const handle = await open(tmpPath, 'wx', 0o600);
    try {
      const counter = new ByteCounter(contentLength);
      await pipeline(source, counter, new FileSink(handle));
      await handle.sync();
      return counter.bytes;
    } finally {
      await handle.close();
    }
  }

  /**
   * fsyncs `dir` (holding the renamed entry) and, when mkdir created directories for this put,
   * each parent whose new entry would otherwise not survive a crash.
   */
  private async syncDirsDown(firstCreated: string | undefined, dir: string): Promise<void> {
    await this.dirSyncer.sync(dir);
    if (firstCreated === undefined) return;
    for (let current = dir; current !== dirname(firstCreated); current = dirname(current)) {
      await syncDir(dirname(current));
    }
  }
}

/** Temp files are named after a digest of their key, so a sweep can tell whose they are. */
function tempPrefix(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/** Depth-first and streaming: one open directory handle per level, no listing held in memory. */
async function* walkFiles(dir: string, skip: string | undefined): AsyncGenerator<string> {
  let handle: Dir;
  try {
    handle = await opendir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
    throw storageFault('list objects', err);
  }
  for await (const entry of handle) {
    const path = join(dir, entry.name);
    if (path === skip) continue;
    if (entry.isDirectory()) yield* walkFiles(path, undefined);
    else if (entry.isFile()) yield path;
  }
}
