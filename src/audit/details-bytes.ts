import { isOwnJcs } from './canonical.js';

/**
 * Whether a line's `details` bytes are what the text reading takes (scanLogLine): a JSON object
 * whose text is its own JCS form. The bytes are valid UTF-8 (see log-bytes.ts). The details most
 * events carry, one flat object of plain strings and integers, are proven canonical in one pass
 * over their bytes; any other text is decoded, parsed and encoded again, as the text reading does,
 * so what this accepts is exactly what that accepts (test/audit/log-bytes.test.ts).
 */
export function canonicalDetails(line: Buffer, from: number, to: number): boolean {
  return flatCanonical(line, from, to) || parsedCanonical(line.toString('utf8', from, to));
}

function parsedCanonical(text: string): boolean {
  let details: unknown;
  try {
    details = JSON.parse(text);
  } catch {
    return false;
  }
  return !!details && typeof details === 'object' && !Array.isArray(details) && isOwnJcs(details, text);
}

const QUOTE = 0x22;

/**
 * A flat object in JCS form: ASCII keys without escapes in ascending order (for ASCII, byte order
 * is the UTF-16 order JCS sorts by), each value a string without escapes, an integer of at most
 * 15 digits without a leading zero or minus zero, true, false or null: the texts JCS writes for
 * those values. False means only "not proven here".
 */
function flatCanonical(line: Buffer, from: number, to: number): boolean {
  const last = to - 1;
  if (to - from < 2 || line[from] !== 0x7b || line[last] !== 0x7d) return false;
  if (to - from === 2) return true;
  let pos = from + 1;
  let previous = -1;
  for (;;) {
    const keyEnd = asciiKeyEnd(line, pos, last);
    if (keyEnd < 0 || line[keyEnd] !== 0x3a || (previous >= 0 && !before(line, previous, pos))) return false;
    previous = pos;
    pos = plainValueEnd(line, keyEnd + 1, last);
    if (pos === last) return true;
    if (pos < 0 || line[pos] !== 0x2c) return false;
    pos += 1;
  }
}

/** The end of the key string at `pos` (after its closing quote) if it is printable ASCII without escapes, else -1. */
function asciiKeyEnd(line: Buffer, pos: number, last: number): number {
  if (line[pos] !== QUOTE) return -1;
  for (let i = pos + 1; i < last; i += 1) {
    const c = line[i]!;
    if (c === QUOTE) return i + 1;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return -1;
  }
  return -1;
}

/** Whether the quoted key at `a` sorts strictly before the quoted key at `b` (both already scanned). */
function before(line: Buffer, a: number, b: number): boolean {
  for (let i = 1; ; i += 1) {
    const x = line[a + i]!;
    const y = line[b + i]!;
    if (x !== y) return y === QUOTE ? false : x === QUOTE || x < y;
    if (x === QUOTE) return false;
  }
}

const LITERALS = ['true', 'false', 'null'].map((w) => Buffer.from(w, 'latin1'));

function plainValueEnd(line: Buffer, pos: number, last: number): number {
  const c = line[pos];
  if (c === QUOTE) {
    for (let i = pos + 1; i < last; i += 1) {
      const b = line[i]!;
      if (b === QUOTE) return i + 1;
      if (b < 0x20 || b === 0x5c) return -1;
    }
    return -1;
  }
  for (const word of LITERALS) if (c === word[0] && pos + word.length <= last && line.subarray(pos, pos + word.length).equals(word)) return pos + word.length;
  return integerEnd(line, pos, last);
}

function integerEnd(line: Buffer, pos: number, last: number): number {
  const start = line[pos] === 0x2d ? pos + 1 : pos;
  const first = start < last ? line[start]! : -1;
  if (first === 0x30) return start === pos && start + 1 <= last && !isDigit(line[start + 1]) ? start + 1 : -1;
  if (first < 0x31 || first > 0x39) return -1;
  let i = start + 1;
  while (i < last && isDigit(line[i])) i += 1;
  const next = line[i];
  return i - start > 15 || next === 0x2e || next === 0x65 || next === 0x45 ? -1 : i;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;
