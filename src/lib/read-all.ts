import type { Readable } from 'node:stream';

/**
 * Reads a stream whole: for small things only (a head, a peaks object). Past `limit` bytes it
 * destroys the stream and throws what `tooLarge` makes, before holding more.
 */
export async function readAll(source: Readable, limit = Number.POSITIVE_INFINITY, tooLarge = (): Error => new RangeError(`more than ${limit} bytes`)): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      source.destroy();
      throw tooLarge();
    }
    parts.push(buf);
  }
  return Buffer.concat(parts);
}
