/**
 * A streaming reader of EBML, the binary layout of Matroska and WebM: elements are an ID, a size
 * and a body, and masters hold further elements. The reader walks the bytes as they arrive and
 * keeps at most one wanted element's body (up to `maxBody`) plus a partial header; elements
 * nobody asked for are skipped without being held, however large.
 */

/** The size of an element whose writer did not know it (live recording, as MediaRecorder does). */
export const UNKNOWN_SIZE = -1;

export class EbmlError extends Error {}

interface Vint { readonly value: number; readonly length: number }

/**
 * An EBML variable-length integer at `at`: IDs keep their length marker, sizes do not and come
 * back as UNKNOWN_SIZE when all their value bits are set. Null while more bytes are needed.
 */
export function readVint(b: Buffer, at: number, keepMarker: boolean): Vint | null {
  const first = b[at];
  if (first === undefined) return null;
  if (first === 0) throw new EbmlError(`invalid EBML number at byte ${at}`);
  const length = Math.clz32(first) - 23;
  if (at + length > b.length) return null;
  const mask = 0xff >> length;
  let value = keepMarker ? first : first & mask;
  let allOnes = (first & mask) === mask;
  for (let i = 1; i < length; i++) {
    const byte = b[at + i] ?? 0;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value: !keepMarker && allOnes ? UNKNOWN_SIZE : value, length };
}

export type EbmlEvent =
  /** A master element the plan enters: its children follow as further events. */
  | { readonly kind: 'enter'; readonly id: number; readonly offset: number; readonly size: number }
  /** A wanted element, whole. */
  | { readonly kind: 'element'; readonly id: number; readonly offset: number; readonly body: Buffer };

export interface EbmlPlan {
  /** Masters whose children are read; all other masters are skipped whole. */
  readonly enter: ReadonlySet<number>;
  /** Elements handed over whole. */
  readonly read: ReadonlySet<number>;
  readonly maxBody: number;
}

/**
 * Entered masters are flattened: their children come as if they were siblings, so a master of
 * unknown size needs no end (the next Cluster simply starts). Only entered masters may have an
 * unknown size; anything else of unknown size cannot be skipped and is an error.
 */
export class EbmlReader {
  private pending = Buffer.alloc(0);
  private skip = 0;
  /** File offset of the first byte not yet consumed. */
  consumed = 0;

  constructor(private readonly plan: EbmlPlan) {}

  push(chunk: Buffer): EbmlEvent[] {
    const events: EbmlEvent[] = [];
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      this.consumed += n;
      chunk = chunk.subarray(n);
    }
    const bytes = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    for (;;) {
      const id = readVint(bytes, at, true);
      const size = id && readVint(bytes, at + id.length, false);
      if (!id || !size) break;
      const offset = this.consumed + at;
      const bodyAt = at + id.length + size.length;
      if (this.plan.enter.has(id.value)) {
        events.push({ kind: 'enter', id: id.value, offset, size: size.value });
        at = bodyAt;
        continue;
      }
      if (size.value === UNKNOWN_SIZE) throw new EbmlError(`element 0x${id.value.toString(16)} at byte ${offset} has an unknown size`);
      if (this.plan.read.has(id.value)) {
        if (size.value > this.plan.maxBody) throw new EbmlError(`element 0x${id.value.toString(16)} at byte ${offset} is ${size.value} bytes, more than ${this.plan.maxBody}`);
        if (bodyAt + size.value > bytes.length) break;
        events.push({ kind: 'element', id: id.value, offset, body: bytes.subarray(bodyAt, bodyAt + size.value) });
        at = bodyAt + size.value;
        continue;
      }
      const available = bytes.length - bodyAt;
      if (size.value <= available) {
        at = bodyAt + size.value;
        continue;
      }
      this.skip = size.value - available;
      at = bytes.length;
      break;
    }
    this.consumed += at;
    this.pending = Buffer.from(bytes.subarray(at));
    return events;
  }

  /** Bytes held back waiting for the rest of an element. */
  get buffered(): number { return this.pending.length; }
}

/** An unsigned integer element's value (up to 6 bytes, all the vault reads). */
export function readUint(body: Buffer): number {
  return body.length === 0 ? 0 : body.readUIntBE(0, Math.min(body.length, 6));
}

/** A signed integer element's value. */
export function readInt(body: Buffer): number {
  return body.length === 0 ? 0 : body.readIntBE(0, Math.min(body.length, 6));
}

export function readFloat(body: Buffer): number {
  if (body.length === 4) return body.readFloatBE(0);
  if (body.length === 8) return body.readDoubleBE(0);
  return 0;
}
