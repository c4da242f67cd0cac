import { hash as cryptoHash } from 'node:crypto';
import { CanonicalAtReader } from './canonical.js';
import { canonicalDetails } from './details-bytes.js';
import { KINDS, LOG_EXPORT_FIELDS, SCANNED, type SealedLine } from './log-lines.js';

/**
 * The byte reading of a per-log line without a proof, the form of every line of an unfiltered
 * export but its checkpoint. The canonical encoding's members are byte ranges of the line: they
 * are found in the exporter's fixed order and copied together in JCS order into one reused
 * buffer behind the raw prevHash, so the chain hash and the leaf come from the line's own bytes,
 * with no decoding of the line to text and no encoding of the canonical text back to UTF-8.
 *
 * It accepts exactly the lines scanLogLine accepts without a proof (test/audit/log-bytes.test.ts),
 * provided the bytes are valid UTF-8, which the caller checks for a whole block of lines at once:
 * then the bytes are the UTF-8 of the text the strict reading sees, and hashing them is hashing
 * its canonical encoding. Anything else, valid or not, is left to the text reading, which names
 * the fault; so is a line whose content does not produce its hash.
 */

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const QUOTE = 0x22;

const KEYS = SCANNED.map((n, i) => ascii(`${i === 0 ? '{' : ','}"${n}":`));
const DETAILS_KEY = ascii(',"details":');
const PREV_KEY = ascii(',"prevHash":"');
const HASH_KEY = ascii('","hash":"');
/** `,"prevHash":"<64 hex>","hash":"<64 hex>"}`, the end of every line without a proof. */
const TAIL_LENGTH = PREV_KEY.length + 64 + HASH_KEY.length + 64 + 2;

/** Where each member's value is kept in the spans: the members before `details` by position, then these two. */
const DETAILS = SCANNED.length;
const PREV_HASH = DETAILS + 1;
const AT = SCANNED.indexOf('at');
const LOG_SEQ = SCANNED.indexOf('logSeq');
const SEQ = SCANNED.indexOf('seq');
const RECORDING_PREV = SCANNED.indexOf('recordingPrev');

/** canonicalLogEvent's members: every exported one but `seq` and `hash`, sorted as JCS sorts keys. */
const CANONICAL = LOG_EXPORT_FIELDS.filter((n) => n !== 'seq' && n !== 'hash').sort();
/** The length of `"name":` before each canonical member's value. */
const CANONICAL_KEY_LENGTHS = CANONICAL.map((n) => n.length + 3);
const CANONICAL_SPANS = CANONICAL.map((n) => (n === 'details' ? DETAILS : n === 'prevHash' ? PREV_HASH : SCANNED.indexOf(n as (typeof SCANNED)[number])));

/** The value of a lowercase hex digit at its byte, -1 elsewhere. */
const HEX = new Int8Array(256).fill(-1);
for (const [i, c] of [...'0123456789abcdef'].entries()) HEX[c.charCodeAt(0)] = i;

/** The position after `key` when the line has it at `pos`, else -1. */
function keyAt(line: Buffer, pos: number, end: number, key: Buffer): number {
  if (pos + key.length > end) return -1;
  for (let i = 0; i < key.length; i += 1) if (line[pos + i] !== key[i]) return -1;
  return pos + key.length;
}

/** The end of the string at `pos`, or -1 unless it has no quote, backslash or control character inside (so it is in JSON.stringify's form). */
function stringEnd(line: Buffer, pos: number, end: number): number {
  if (line[pos] !== QUOTE) return -1;
  for (let i = pos + 1; i < end; i += 1) {
    const c = line[i]!;
    if (c === QUOTE) return i + 1;
    if (c < 0x20 || c === 0x5c) return -1;
  }
  return -1;
}

/** A DataView of the bytes, `known` when it is one already: one per read chunk rather than one per line. */
function viewOf(bytes: Buffer, known?: DataView): DataView {
  const same = known && known.buffer === bytes.buffer && known.byteOffset === bytes.byteOffset && known.byteLength === bytes.byteLength;
  return same ? known : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const isNull = (line: Buffer, pos: number, end: number): boolean =>
  pos + 4 <= end && line[pos] === 0x6e && line[pos + 1] === 0x75 && line[pos + 2] === 0x6c && line[pos + 3] === 0x6c;

export class LogLineReader {
  #out = Buffer.alloc(64 * 1024);
  /** Start and end of each member's value text in the line, quotes included. */
  readonly #spans = new Int32Array(2 * (PREV_HASH + 1));
  readonly #at = new CanonicalAtReader();
  /** The last number read; -1 for null. */
  #number = 0;
  #logSeq = 0;
  #prevAt = 0;
  #log = '';
  #outView = viewOf(this.#out);
  #lineView = viewOf(this.#out);
  #logBytes = Buffer.alloc(0);

  /** The line's record, or null when the byte reading cannot vouch for it: the text reading then decides. */
  read(line: Buffer, start: number, end: number): SealedLine | null {
    const length = this.#scan(line, start, end);
    if (length < 0) return null;
    const out = this.#out;
    const hash = cryptoHash('sha256', out.subarray(0, length), 'hex');
    const hashAt = end - 66;
    for (let i = 0; i < 64; i += 1) if (line[hashAt + i] !== hash.charCodeAt(i)) return null;
    // SHA-256(0x00 || canonical): the byte before the encoding becomes the leaf prefix once the chain hash is done.
    out[31] = 0x00;
    const leaf = cryptoHash('sha256', out.subarray(31, length), 'binary');
    const prevHash = line.toString('latin1', this.#prevAt, this.#prevAt + 64);
    return { kind: 'sealed', log: this.#logText(line), logSeq: this.#logSeq, prevHash, hash, leaf };
  }

  /** The canonical encoding of the line as this reading finds it; null when it leaves the line to the text reading. */
  canonical(line: Buffer, start = 0, end = line.length): Buffer | null {
    const length = this.#scan(line, start, end);
    return length < 0 ? null : Buffer.from(this.#out.subarray(32, length));
  }

  /**
   * Checks the line's form and writes SHA-256's input for the chain hash into the buffer: the
   * raw prevHash, then the canonical encoding from byte 32. Returns the input's length, or -1.
   */
  #scan(line: Buffer, start: number, end: number): number {
    // The canonical encoding is the line without `seq` and `hash`, so it never outgrows the line.
    if (this.#out.length < 32 + end - start) this.#out = Buffer.alloc(2 * (32 + end - start));
    const pos = this.#members(line, start, end);
    const tailAt = end - TAIL_LENGTH;
    if (pos < 0 || tailAt < pos || line[end - 1] !== 0x7d || line[end - 2] !== QUOTE) return -1;
    const prevAt = keyAt(line, tailAt, end, PREV_KEY);
    const hashAt = prevAt + 64 + HASH_KEY.length;
    if (prevAt < 0 || keyAt(line, prevAt + 64, end, HASH_KEY) !== hashAt || !this.#rawPrevHash(line, prevAt) || !isHex(line, hashAt)) return -1;
    this.#prevAt = prevAt;
    const spans = this.#spans;
    spans[2 * DETAILS] = pos;
    spans[2 * DETAILS + 1] = tailAt;
    spans[2 * PREV_HASH] = prevAt - 1;
    spans[2 * PREV_HASH + 1] = prevAt + 65;
    const atFrom = spans[2 * AT]!;
    if (spans[2 * AT + 1]! - atFrom !== 26 || !this.#at.accepts(line, atFrom + 1) || spans[1]! - spans[0]! === 2) return -1;
    if (!canonicalDetails(line, pos, tailAt)) return -1;
    return this.#write(line);
  }

  /** Reads the members before `details` into the spans; the position after `,"details":`, or -1. */
  #members(line: Buffer, start: number, end: number): number {
    const spans = this.#spans;
    let pos = start;
    let logSeq = 0;
    for (let i = 0; i < KEYS.length; i += 1) {
      pos = keyAt(line, pos, end, KEYS[i]!);
      if (pos < 0) return -1;
      const valueEnd = this.#value(line, pos, end, KINDS[i]!);
      if (valueEnd < 0) return -1;
      if (i === LOG_SEQ) logSeq = this.#logSeq = this.#number;
      // Safe integers, as Number() of the text must give back the text; recordingPrev must be an earlier logSeq.
      if ((i === LOG_SEQ || i === SEQ) && !Number.isSafeInteger(this.#number)) return -1;
      if (i === RECORDING_PREV && this.#number >= logSeq) return -1;
      spans[2 * i] = pos;
      spans[2 * i + 1] = valueEnd;
      pos = valueEnd;
    }
    return keyAt(line, pos, end, DETAILS_KEY);
  }

  #value(line: Buffer, pos: number, end: number, kind: number): number {
    if (kind % 2 === 1 && isNull(line, pos, end)) {
      this.#number = -1;
      return pos + 4;
    }
    return kind < 2 ? stringEnd(line, pos, end) : this.#numberEnd(line, pos, end);
  }

  /** A number of 1 to 16 digits without a leading zero, kept in #number; its end, or -1. */
  #numberEnd(line: Buffer, pos: number, end: number): number {
    const first = pos < end ? line[pos]! - 0x30 : -1;
    if (first < 1 || first > 9) return -1;
    let value = first;
    let i = pos + 1;
    for (; i < end; i += 1) {
      const d = line[i]! - 0x30;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
    }
    this.#number = value;
    return i - pos > 16 ? -1 : i;
  }

  /** Decodes the prevHash's 64 hex digits into bytes 0..31 of the buffer; false when they are not lowercase hex. */
  #rawPrevHash(line: Buffer, from: number): boolean {
    const out = this.#out;
    for (let i = 0; i < 32; i += 1) {
      const high = HEX[line[from + 2 * i]!]!;
      const low = HEX[line[from + 2 * i + 1]!]!;
      if (high < 0 || low < 0) return false;
      out[i] = high * 16 + low;
    }
    return true;
  }

  /** Copies the members, key and value as they stand in the line, in canonical order behind the raw prevHash; the input's length. */
  #write(line: Buffer): number {
    const out = this.#out;
    const outView = this.#outView = viewOf(out, this.#outView);
    const lineView = this.#lineView = viewOf(line, this.#lineView);
    const spans = this.#spans;
    let o = 32;
    for (let k = 0; k < CANONICAL_SPANS.length; k += 1) {
      out[o++] = k === 0 ? 0x7b : 0x2c;
      const s = CANONICAL_SPANS[k]!;
      let i = spans[2 * s]! - CANONICAL_KEY_LENGTHS[k]!;
      const to = spans[2 * s + 1]!;
      // Four bytes per step: the values are most of the line, and a byte loop was the larger part of this copy.
      for (; i + 4 <= to; i += 4, o += 4) outView.setUint32(o, lineView.getUint32(i));
      for (; i < to; i += 1) out[o++] = line[i]!;
    }
    out[o++] = 0x7d;
    return o;
  }

  /** The origin, decoded once for a run of lines of the same log (every line of a per-tenant export). */
  #logText(line: Buffer): string {
    const from = this.#spans[0]! + 1;
    const to = this.#spans[1]! - 1;
    const known = this.#logBytes;
    let same = known.length === to - from;
    for (let i = 0; same && i < known.length; i += 1) same = line[from + i] === known[i];
    if (!same) {
      this.#logBytes = Buffer.from(line.subarray(from, to));
      this.#log = this.#logBytes.toString('utf8');
    }
    return this.#log;
  }
}

function isHex(line: Buffer, from: number): boolean {
  for (let i = from; i < from + 64; i += 1) if (HEX[line[i]!]! < 0) return false;
  return true;
}
