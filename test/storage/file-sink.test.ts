import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileSink } from '../../src/storage/file-sink.js';

/** Records what reaches the file; each call takes a macrotask, as a thread-pool write does. */
function recordingHandle(maxPerCall = Number.POSITIVE_INFINITY) {
  const calls: number[] = [];
  const parts: Buffer[] = [];
  const take = (buffers: Buffer[]): number => {
    let left = maxPerCall;
    let written = 0;
    for (const b of buffers) {
      const n = Math.min(left, b.length);
      parts.push(Buffer.from(b.subarray(0, n)));
      written += n;
      left -= n;
      if (n < b.length) break;
    }
    calls.push(buffers.length);
    return written;
  };
  const later = <T>(value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), 1));
  const handle = {
    write: (buffer: Buffer, offset = 0) => later({ bytesWritten: take([buffer.subarray(offset)]), buffer }),
    writev: (buffers: Buffer[]) => later({ bytesWritten: take(buffers), buffers }),
  };
  return { handle: handle as unknown as FileHandle, calls, written: () => Buffer.concat(parts) };
}

function chunks(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251));
}

describe('FileSink', () => {
  test('gathers the chunks that arrive during a write into one writev, in order', async () => {
    const input = chunks(200, 1000);
    const file = recordingHandle();
    await pipeline(Readable.from(input), new FileSink(file.handle));
    assert.deepEqual(file.written(), Buffer.concat(input));
    assert.ok(file.calls.length < input.length / 10, `${file.calls.length} writes for ${input.length} chunks`);
  });

  test('finishes short writes, whatever chunk they stop in', async () => {
    const input = chunks(50, 777);
    const file = recordingHandle(1000);
    await pipeline(Readable.from(input), new FileSink(file.handle));
    assert.deepEqual(file.written(), Buffer.concat(input));
  });

  test('a failed write fails the stream', async () => {
    const handle = { write: () => Promise.reject(new Error('disk full')), writev: () => Promise.reject(new Error('disk full')) };
    await assert.rejects(pipeline(Readable.from(chunks(3, 10)), new FileSink(handle as unknown as FileHandle)), /disk full/);
  });
});
