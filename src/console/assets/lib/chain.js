// @ts-check
/**
 * In-browser verification of audit events, exactly as docs/audit.md "Canonical encoding and the
 * hash" specifies: hash = SHA-256(prevHash as 32 raw bytes || UTF-8(JCS(event without hash))).
 * Events of the per-tenant logs carry `log` and `logSeq` (and `recordingPrev`) in place of
 * `seq` in their canonical form. Only WebCrypto is used; nothing is sent anywhere.
 */

/**
 * @typedef {{
 *   seq?: number, log?: string, logSeq?: number, recordingPrev?: number | null,
 *   at: string, tenant: string | null, actorSub: string, actorRole: string | null, action: string,
 *   outcome: string, recordingId: string | null, linkId: string | null, ip: string | null,
 *   userAgent: string | null, requestId: string | null, details: Record<string, unknown>,
 *   prevHash: string, hash: string
 * }} AuditEventLine
 */

/**
 * RFC 8785 (JCS) for plain JSON values.
 * @param {unknown} value
 * @returns {string}
 */
export function jcs(value) {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean': return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('not a finite number');
      return JSON.stringify(value);
    case 'string': return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
      const obj = /** @type {Record<string, unknown>} */ (value);
      return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${jcs(obj[k])}`).join(',')}}`;
    }
    default: throw new TypeError(`cannot encode a ${typeof value}`);
  }
}

/** True for events of a per-tenant log (they name their log and position in it). */
/** @param {AuditEventLine} e */
export function isLogEvent(e) {
  return typeof e.log === 'string' && typeof e.logSeq === 'number';
}

/**
 * The canonical text of an event: every member but `hash` (and, for a per-log event, `seq`).
 * @param {AuditEventLine} e
 */
export function canonical(e) {
  /** @type {Record<string, unknown>} */
  const base = {
    action: e.action, actorRole: e.actorRole, actorSub: e.actorSub, at: e.at, details: e.details, ip: e.ip,
    linkId: e.linkId, outcome: e.outcome, prevHash: e.prevHash, recordingId: e.recordingId, requestId: e.requestId,
    tenant: e.tenant, userAgent: e.userAgent,
  };
  if (isLogEvent(e)) return jcs({ ...base, log: e.log, logSeq: e.logSeq, recordingPrev: e.recordingPrev ?? null });
  return jcs({ ...base, seq: e.seq });
}

/** @param {string} hex */
export function hexBytes(hex) {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new TypeError('not lower-case hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** @param {ArrayBuffer} buf */
export function toHex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** @param {Uint8Array[]} parts */
export async function sha256(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { joined.set(p, at); at += p.length; }
  return toHex(await crypto.subtle.digest('SHA-256', joined));
}

const CANONICAL_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HASH = /^[0-9a-f]{64}$/;

/**
 * Recomputes the hash of one event.
 * @param {AuditEventLine} e
 * @returns {Promise<string | null>} null when it matches, else what is wrong
 */
export async function checkEvent(e) {
  if (!HASH.test(e.prevHash) || !HASH.test(e.hash)) return 'its hashes are not 64 lower-case hex digits';
  if (!CANONICAL_AT.test(e.at)) return 'its time is not in the canonical form';
  const hash = await sha256(hexBytes(e.prevHash), new TextEncoder().encode(canonical(e)));
  return hash === e.hash ? null : 'its hash does not match its contents';
}

/**
 * @typedef {{ ok: boolean, checked: number, links: number, firstBad: AuditEventLine | null, reason: string | null }} ChainResult
 */

/**
 * Checks every event's own hash, and the link prevHash -> hash wherever two events shown are
 * neighbours in their chain (consecutive seq, or consecutive logSeq of one log).
 * @param {AuditEventLine[]} events in any order
 * @returns {Promise<ChainResult>}
 */
export async function verifyEvents(events) {
  const sorted = [...events].sort((a, b) => position(a) - position(b));
  /** @type {Map<string, AuditEventLine>} */
  const byPosition = new Map();
  let links = 0;
  for (const e of sorted) {
    const problem = await checkEvent(e);
    if (problem) return { ok: false, checked: byPosition.size, links, firstBad: e, reason: problem };
    const previous = byPosition.get(key(e, -1));
    if (previous) {
      if (previous.hash !== e.prevHash) return { ok: false, checked: byPosition.size, links, firstBad: e, reason: 'it does not link to the event before it' };
      links++;
    }
    byPosition.set(key(e, 0), e);
  }
  return { ok: true, checked: sorted.length, links, firstBad: null, reason: null };
}

/** @param {AuditEventLine} e */
function position(e) {
  return (isLogEvent(e) ? e.logSeq : e.seq) ?? 0;
}

/** @param {AuditEventLine} e @param {number} offset */
function key(e, offset) {
  return `${isLogEvent(e) ? e.log : ''}\u0000${position(e) + offset}`;
}
