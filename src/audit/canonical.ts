import { createHash } from 'node:crypto';
import { leafHash } from './merkle.js';
import type { AuditEvent, LogEvent } from './types.js';

/**
 * The byte-exact encoding that the chain hashes; docs/audit.md specifies it for independent
 * verifiers. Everything here is a pure function of the event's values: no session time zone,
 * date style or locale can change a byte.
 */

/** RFC 8785 (JSON Canonicalization Scheme) for the JSON values the audit log holds. */
export function jcs(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('audit values must be finite numbers');
      // ECMAScript Number-to-string is JCS's number format; it also prints -0 as 0.
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 prescribes.
      const keys = Object.keys(obj).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs(obj[k])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`audit values cannot hold a ${typeof value}`);
  }
}

/**
 * Whether `text` is the JCS form of `value` (parsed from it). Values JCS cannot encode, such as a
 * number beyond the double range, make it false rather than throw: a reader then takes the strict
 * path, which names the line.
 */
export function isOwnJcs(value: unknown, text: string): boolean {
  try {
    return jcs(value) === text;
  } catch {
    return false;
  }
}

const CANONICAL_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** RFC 3339, UTC, exactly three fractional digits: `2026-11-21T09:30:00.000Z`. */
export function formatAt(at: Date): string {
  const text = at.toISOString();
  if (!CANONICAL_AT.test(text)) throw new TypeError('audit timestamps must lie in years 0000-9999');
  return text;
}

/** Parses only the canonical form, so that a reformatted timestamp counts as an edit. */
export function parseCanonicalAt(text: string): Date | null {
  if (!CANONICAL_AT.test(text)) return null;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) || at.toISOString() !== text ? null : at;
}

/** The canonical encoding: JCS of every field except `hash`. */
export function canonicalEvent(e: Omit<AuditEvent, 'hash'>): string {
  return jcs({
    action: e.action, actorRole: e.actorRole, actorSub: e.actorSub, at: formatAt(e.at), details: e.details,
    ip: e.ip, linkId: e.linkId, outcome: e.outcome, prevHash: e.prevHash, recordingId: e.recordingId,
    requestId: e.requestId, seq: e.seq, tenant: e.tenant, userAgent: e.userAgent,
  });
}

const HEX_HASH = /^[0-9a-f]{64}$/;

export function isHexHash(text: unknown): text is string {
  return typeof text === 'string' && HEX_HASH.test(text);
}

/** hash = SHA-256(prevHash as 32 raw bytes || UTF-8 of the canonical encoding), lower-case hex. */
export function hashEvent(e: Omit<AuditEvent, 'hash'>): string {
  if (!isHexHash(e.prevHash)) throw new TypeError('prevHash must be 64 lower-case hex digits');
  return createHash('sha256').update(Buffer.from(e.prevHash, 'hex')).update(canonicalEvent(e), 'utf8').digest('hex');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * PostgreSQL text cannot hold NUL or unpaired surrogates (the UTF-8 encoder would replace them),
 * so values are cleaned before hashing: what is hashed is exactly what the database returns.
 */
export function cleanText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(/\0/g, '\uFFFD');
}

/**
 * Turns caller-supplied details into the plain JSON that will be stored and hashed: undefined
 * members dropped, Dates as ISO strings, strings (and keys) cleaned. Throws TypeError for values
 * JSON cannot carry (BigInt, cycles) or when the result is not an object.
 */
export function normaliseDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  if (details === undefined) return {};
  const text = JSON.stringify(details);
  if (text === undefined) throw new TypeError('audit details must be a JSON object');
  const parsed: unknown = JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === 'string') return cleanText(value);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      // Object.fromEntries defines own properties, so a "__proto__" key stays data.
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [cleanText(k), v]));
    }
    return value;
  });
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TypeError('audit details must be a JSON object');
  return parsed as Record<string, unknown>;
}

/**
 * The canonical encoding of a per-log event: the object of canonicalEvent with `seq` replaced
 * by `log` (the origin) and `logSeq`, plus `recordingPrev`. The global seq is not covered: it is
 * storage order, not evidence.
 */
export function canonicalLogEvent(e: Omit<LogEvent, 'hash' | 'seq'>): string {
  // jcs of the object with these members, written out in their sorted order: every writer encodes
  // each event, and sorting the same sixteen keys each time is most of what jcs would do.
  return `{"action":${jcs(e.action)},"actorRole":${jcs(e.actorRole)},"actorSub":${jcs(e.actorSub)},"at":${jcs(formatAt(e.at))}`
    + `,"details":${jcs(e.details)},"ip":${jcs(e.ip)},"linkId":${jcs(e.linkId)},"log":${jcs(e.log)},"logSeq":${jcs(e.logSeq)}`
    + `,"outcome":${jcs(e.outcome)},"prevHash":${jcs(e.prevHash)},"recordingId":${jcs(e.recordingId)}`
    + `,"recordingPrev":${jcs(e.recordingPrev)},"requestId":${jcs(e.requestId)},"tenant":${jcs(e.tenant)},"userAgent":${jcs(e.userAgent)}}`;
}

/** hash = SHA-256(prevHash as 32 raw bytes || UTF-8 of canonicalLogEvent), lower-case hex. */
export function hashLogEvent(e: Omit<LogEvent, 'hash' | 'seq'>): string {
  if (!isHexHash(e.prevHash)) throw new TypeError('prevHash must be 64 lower-case hex digits');
  return createHash('sha256').update(Buffer.from(e.prevHash, 'hex')).update(canonicalLogEvent(e), 'utf8').digest('hex');
}

/** The RFC 9162 leaf of a per-log event: SHA-256(0x00 || UTF-8 of canonicalLogEvent). */
export function logEventLeaf(e: Omit<LogEvent, 'hash' | 'seq'>): Buffer {
  return leafHash(Buffer.from(canonicalLogEvent(e), 'utf8'));
}

/** hashLogEvent and logEventLeaf together, encoding the event once: what a writer needs. */
export function sealLogEvent(e: Omit<LogEvent, 'hash' | 'seq'>): { readonly hash: string; readonly leaf: Buffer } {
  if (!isHexHash(e.prevHash)) throw new TypeError('prevHash must be 64 lower-case hex digits');
  const canonical = Buffer.from(canonicalLogEvent(e), 'utf8');
  return { hash: createHash('sha256').update(Buffer.from(e.prevHash, 'hex')).update(canonical).digest('hex'), leaf: leafHash(canonical) };
}

/** The character codes of a text, or of bytes, by index; reading both through one function keeps one set of rules. */
type Codes = (i: number) => number;

const digitsAt = (code: Codes, from: number, count: number): number => {
  let value = 0;
  for (let i = from; i < from + count; i += 1) {
    const d = code(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
};

/** Milliseconds into the day of a 24-character canonical timestamp's `HH:MM:SS.mmmZ`, or -1 when that part is not canonical. */
function timeOfDay(code: Codes): number {
  if (code(13) !== 0x3a || code(16) !== 0x3a || code(19) !== 0x2e || code(23) !== 0x5a) return -1;
  const h = digitsAt(code, 11, 2);
  const m = digitsAt(code, 14, 2);
  const s = digitsAt(code, 17, 2);
  const ms = digitsAt(code, 20, 3);
  if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59 || ms < 0) return -1;
  return ((h * 60 + m) * 60 + s) * 1000 + ms;
}

/**
 * parseCanonicalAt for a stream of timestamps that mostly share their day, as an export's do:
 * the date part is checked in full once per day, the time of day by its digits and ranges,
 * which accepts exactly the texts parseCanonicalAt accepts.
 */
export class CanonicalAtReader {
  #day = '';
  #dayMs = 0;

  read(text: string): Date | null {
    if (this.#day !== '' && text.startsWith(this.#day)) {
      const t = text.length === 24 ? timeOfDay((i) => text.charCodeAt(i)) : -1;
      return t < 0 ? null : new Date(this.#dayMs + t);
    }
    const at = parseCanonicalAt(text);
    if (at) {
      this.#day = text.slice(0, 11);
      this.#dayMs = at.getTime() - timeOfDay((i) => text.charCodeAt(i));
    }
    return at;
  }

  /** Whether the 24 bytes at `from` are a timestamp read() accepts; no Date is made, as the byte reading of a line needs none. */
  accepts(bytes: Buffer, from: number): boolean {
    if (this.#sameDay(bytes, from)) return timeOfDay((i) => bytes[from + i]!) >= 0;
    return this.read(bytes.toString('latin1', from, from + 24)) !== null;
  }

  #sameDay(bytes: Buffer, from: number): boolean {
    const day = this.#day;
    if (day === '') return false;
    for (let i = 0; i < day.length; i += 1) if (bytes[from + i] !== day.charCodeAt(i)) return false;
    return true;
  }
}
