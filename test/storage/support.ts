import { createHash, randomFillSync } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import type { ObjectStore } from '../../src/storage/types.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { digestOf } from '../helpers/digest.js';

export const MIB = 1024 * 1024;
export { FIXTURE_DIR, FIXTURE_FILES as FIXTURES } from '../helpers/fixtures.js';

export interface StoreHarness {
  readonly store: ObjectStore;
  /** Files in the fs driver's temp directory (always empty for s3). */
  tempFiles(): Promise<string[]>;
  close(): Promise<void>;
}

export async function fsHarness(): Promise<StoreHarness> {
  const root = await mkdtemp(join(tmpdir(), 'callvault-fs-store-'));
  const store = new FsObjectStore({ root });
  return {
    store,
    tempFiles: () => readdir(join(root, '.tmp')).catch(() => []),
    close: () => rm(root, { recursive: true, force: true }),
  };
}

export async function s3Harness(): Promise<StoreHarness & { s3: S3rverHandle }> {
  // 5 MiB parts (S3's minimum) so that the large-body tests really go multipart.
  const s3 = await startS3rver({ store: { partSizeBytes: 5 * MIB } });
  return { s3, store: s3.store, tempFiles: async () => [], close: () => s3.destroy() };
}

export const HARNESSES: ReadonlyArray<{ driver: 'fs' | 's3'; make: () => Promise<StoreHarness> }> = [
  { driver: 'fs', make: fsHarness },
  { driver: 's3', make: s3Harness },
];

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256OfStream(stream: Readable): Promise<{ hex: string; bytes: number }> {
  const { sha256: hex, bytes } = await digestOf(stream);
  return { hex, bytes };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export interface GeneratedBody {
  readonly stream: Readable;
  /** SHA-256 of everything produced so far (the whole body once the stream has ended). */
  digest(): string;
  produced(): number;
}

/**
 * A random body of `totalBytes`, produced only as fast as it is read. `failAfter` makes it error
 * once that many bytes are out; `onProgress` runs after each chunk with the bytes produced so far.
 */
export function generatedBody(
  totalBytes: number,
  opts: { chunkBytes?: number; failAfter?: number; onProgress?: (produced: number) => void } = {},
): GeneratedBody {
  const chunkBytes = opts.chunkBytes ?? 64 * 1024;
  const hash = createHash('sha256');
  let produced = 0;
  let hex: string | undefined;
  const stream = new Readable({
    read() {
      if (opts.failAfter !== undefined && produced >= opts.failAfter) {
        this.destroy(new Error('upstream body failed'));
        return;
      }
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(chunkBytes, totalBytes - produced)));
      hash.update(chunk);
      produced += chunk.length;
      opts.onProgress?.(produced);
      this.push(chunk);
    },
  });
  return {
    stream,
    digest: () => (hex ??= hash.digest('hex')),
    produced: () => produced,
  };
}

let gcFn: (() => void) | undefined;

/** A full, synchronous garbage collection, so that memory samples count only live buffers. */
export function collectGarbage(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** Live Buffer/ArrayBuffer bytes plus JS heap, after a full collection. */
export function liveBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.arrayBuffers + usage.heapUsed;
}
