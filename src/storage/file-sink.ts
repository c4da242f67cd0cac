import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/**
 * How much a put may buffer while a write is with the thread pool. Enough for the upstream
 * (decrypting TLS, hashing, encrypting) never to wait for the disk while the page cache absorbs
 * writes, and small enough to keep memory per upload flat.
 */
export const FILE_SINK_BUFFER_BYTES = 1024 * 1024;

/**
 * Writes a stream into an open file with one write in flight at a time: chunks that arrive while
 * it runs are gathered into the next `writev`, so a 16-byte segment tag costs no syscall of its
 * own and no chunk is copied to batch it. The caller fsyncs and closes the handle.
 */
export class FileSink extends Writable {
  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: FILE_SINK_BUFFER_BYTES });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    writeAll(this.handle, [chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    writeAll(this.handle, chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }
}

/** One writev for the lot; a short write (rare on regular files) is finished chunk by chunk. */
async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let written = buffers.length === 1 ? (await handle.write(buffers[0] as Buffer)).bytesWritten : (await handle.writev(buffers)).bytesWritten;
  if (written === total) return;
  for (const buffer of buffers) {
    if (written >= buffer.length) {
      written -= buffer.length;
      continue;
    }
    for (let offset = written; offset < buffer.length; ) offset += (await handle.write(buffer, offset)).bytesWritten;
    written = 0;
  }
}
