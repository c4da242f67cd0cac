import { CanonicalAtReader, formatAt, isOwnJcs, jcs } from './canonical.js';
import { parseNdjsonLine, toEvent, type Fields } from './parse.js';
import type { AuditEvent, LogEvent } from './types.js';

/**
 * The lines of a per-log export (docs/audit.md, "Export"): one event per line, in the member
 * order below, `proof` only in filtered exports; the last line of an NDJSON export carries the
 * signed checkpoint the events are checked against. Events of the single-chain epoch keep the
 * line format of `ndjsonLine`. The CSV form has the same columns (epoch rows leave `log`,
 * `logSeq` and `recordingPrev` empty) and no checkpoint row: the checkpoint is a separate file.
 */

export const LOG_EXPORT_FIELDS = [
  'log', 'logSeq', 'seq', 'at', 'tenant', 'actorSub', 'actorRole', 'action', 'outcome', 'recordingId', 'recordingPrev',
  'linkId', 'ip', 'userAgent', 'requestId', 'details', 'prevHash', 'hash',
] as const;

/** The inclusion proof of leaf `logSeq - 1` in the tree of `treeSize` leaves, hashes as hex. */
export interface ProofJson {
  readonly treeSize: number;
  readonly hashes: readonly string[];
}

/**
 * A per-log line without a proof, read and hashed from its bytes (src/audit/log-bytes.ts): only
 * what the checks need, and only for a line whose content produces its hash.
 */
export interface SealedLine {
  readonly kind: 'sealed';
  readonly log: string;
  readonly logSeq: number;
  readonly prevHash: string;
  readonly hash: string;
  /** The RFC 9162 leaf hash as a latin1 string (see MerkleFold). */
  readonly leaf: string;
}

export type ExportRecord =
  | { readonly kind: 'epoch'; readonly event: AuditEvent }
  | { readonly kind: 'log'; readonly event: LogEvent; readonly proof: ProofJson | null; readonly canonical?: string }
  | SealedLine
  | { readonly kind: 'checkpoint'; readonly note: string };

/** A per-log line that is not what the exporter writes; verification fails at `logSeq`. */
export class LogRecordError extends Error {
  override readonly name = 'LogRecordError';
  constructor(readonly logSeq: number | undefined, message: string) { super(message); }
}

export function proofJson(treeSize: number, hashes: readonly Uint8Array[]): ProofJson {
  return { treeSize, hashes: hashes.map((h) => Buffer.from(h).toString('hex')) };
}

export function proofText(p: ProofJson): string {
  return `{"treeSize":${p.treeSize},"hashes":[${p.hashes.map((h) => `"${h}"`).join(',')}]}`;
}

/**
 * The JSON text of every member of an event, computed once for both the export line and the
 * canonical encoding: the offline verifier rebuilds both for each line it reads, so this is
 * where its time goes. Strings and numbers are JSON.stringify'd, which is JCS for them.
 */
type Parts = Readonly<Record<(typeof LOG_EXPORT_FIELDS)[number], string>>;

function partsOf(e: LogEvent, atText = formatAt(e.at)): Parts {
  const s = JSON.stringify;
  return {
    log: s(e.log), logSeq: String(e.logSeq), seq: String(e.seq), at: `"${atText}"`, tenant: s(e.tenant), actorSub: s(e.actorSub),
    actorRole: s(e.actorRole), action: s(e.action), outcome: s(e.outcome), recordingId: s(e.recordingId),
    recordingPrev: s(e.recordingPrev), linkId: s(e.linkId), ip: s(e.ip), userAgent: s(e.userAgent), requestId: s(e.requestId),
    details: jcs(e.details), prevHash: s(e.prevHash), hash: s(e.hash),
  };
}

function lineOf(p: Parts, proof: ProofJson | null | undefined): string {
  return `{"log":${p.log},"logSeq":${p.logSeq},"seq":${p.seq},"at":${p.at},"tenant":${p.tenant},"actorSub":${p.actorSub},`
    + `"actorRole":${p.actorRole},"action":${p.action},"outcome":${p.outcome},"recordingId":${p.recordingId},`
    + `"recordingPrev":${p.recordingPrev},"linkId":${p.linkId},"ip":${p.ip},"userAgent":${p.userAgent},"requestId":${p.requestId},`
    + `"details":${p.details},"prevHash":${p.prevHash},"hash":${p.hash}${proof ? `,"proof":${proofText(proof)}` : ''}}\n`;
}

/** canonicalLogEvent (src/audit/canonical.ts) from the member texts: the same bytes, members in JCS order. */
function canonicalOf(p: Omit<Parts, 'hash'>): string {
  return `{"action":${p.action},"actorRole":${p.actorRole},"actorSub":${p.actorSub},"at":${p.at},"details":${p.details},`
    + `"ip":${p.ip},"linkId":${p.linkId},"log":${p.log},"logSeq":${p.logSeq},"outcome":${p.outcome},"prevHash":${p.prevHash},`
    + `"recordingId":${p.recordingId},"recordingPrev":${p.recordingPrev},"requestId":${p.requestId},"tenant":${p.tenant},`
    + `"userAgent":${p.userAgent}}`;
}

export function logNdjsonLine(e: LogEvent, proof?: ProofJson | null): string {
  return lineOf(partsOf(e), proof);
}

/** The canonical encoding of a per-log event, equal to canonicalLogEvent's (test/audit/log-lines.test.ts). */
export function logCanonical(e: LogEvent): string {
  return canonicalOf(partsOf(e));
}

/** The last line of an NDJSON export: the signed note, exactly. */
export function checkpointLine(note: string): string {
  return `{"checkpoint":${JSON.stringify(note)}}\n`;
}

const LOG_HINT = /^\{"log":"(?:[^"\\]|\\.)*","logSeq":(\d{1,15})[,}]/;

export function isProof(value: unknown): value is ProofJson {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const p = value as Record<string, unknown>;
  return Object.keys(p).length === 2 && typeof p.treeSize === 'number' && Number.isSafeInteger(p.treeSize) && p.treeSize > 0
    && Array.isArray(p.hashes) && p.hashes.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));
}

/** Type checks of the per-log members, then of the rest as for an epoch event. */
export function toLogEvent(f: Record<string, unknown>, where: string): LogEvent {
  const logSeq = f.logSeq;
  if (typeof logSeq !== 'number' || !Number.isSafeInteger(logSeq) || logSeq < 1) throw new LogRecordError(undefined, `${where}: logSeq is not a positive integer`);
  const bad = (what: string): LogRecordError => new LogRecordError(logSeq, `${where} (logSeq ${logSeq}): ${what}`);
  if (typeof f.log !== 'string' || f.log === '') throw bad('log is not an origin');
  const prev = f.recordingPrev;
  if (prev !== null && (typeof prev !== 'number' || !Number.isSafeInteger(prev) || prev < 1 || prev >= logSeq)) {
    throw bad('recordingPrev is neither null nor an earlier logSeq');
  }
  let event: { -readonly [K in keyof LogEvent]: LogEvent[K] };
  try {
    event = toEvent(f as Fields, where) as typeof event;
  } catch (err) {
    throw bad((err as Error).message);
  }
  event.log = f.log;
  event.logSeq = logSeq;
  event.recordingPrev = prev as number | null;
  return event;
}

function parseJsonLine(line: string, lineNo: number, hint: number | undefined): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    throw new LogRecordError(hint, `line ${lineNo}: not valid JSON`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new LogRecordError(hint, `line ${lineNo}: not a JSON object`);
  return doc as Record<string, unknown>;
}

/**
 * The fast text reading of a per-log line, for lines with a proof and any line the byte reading
 * (src/audit/log-bytes.ts) leaves to text: the members are sliced out of the line in the
 * exporter's fixed order, and those slices are the member texts of the canonical encoding. It
 * accepts only what it can prove the strict reading below would accept with the same event and
 * encoding: strings without any backslash (so already in JSON.stringify form: a quote would end
 * them, control characters and lone surrogates cannot occur in decoded UTF-8 without escapes),
 * numbers in their shortest decimal form, `details` equal to its JCS form. Anything else, valid
 * or not, returns null and is read by the strict path, which names the fault.
 */
/** The members before `details`, and how each is read: 0 a string, 1 a string or null, 2 a number, 3 a number or null. */
export const SCANNED = LOG_EXPORT_FIELDS.slice(0, 15);
export const KINDS = SCANNED.map((n) => (n === 'logSeq' || n === 'seq' ? 2 : n === 'recordingPrev' ? 3
  : ['tenant', 'actorRole', 'recordingId', 'linkId', 'ip', 'userAgent', 'requestId'].includes(n) ? 1 : 0));
/**
 * The members before `details`, matched in one pass of a regular expression compiled to native
 * code rather than key by key: strings without a backslash, a quote or a control character,
 * numbers without a leading zero and of at most 16 digits. Control characters later on the line
 * need no search: `details` and `proof` must equal their canonical forms, the hashes are hex.
 */
const STRING = '"[^"\\\\\\u0000-\\u001f]*"';
const NUMBER = '[1-9][0-9]{0,15}';
const VALUES = [STRING, `null|${STRING}`, NUMBER, `null|${NUMBER}`];
const MEMBERS = new RegExp(`^${SCANNED.map((n, i) => `${i === 0 ? '\\{' : ','}"${n}":(${VALUES[KINDS[i]!]!})`).join('')},"details":`);
const PREV_KEY = ',"prevHash":"';
const HASH_KEY = '","hash":"';
/** `,"prevHash":"<64 hex>","hash":"<64 hex>"` */
const TAIL_LENGTH = PREV_KEY.length + 64 + HASH_KEY.length + 64 + 1;
const atReader = new CanonicalAtReader();
const PROOF_KEY = ',"proof":{"treeSize":';

/** 1 at the char codes of lowercase hex digits: a table lookup per character beats a regular expression here. */
const LOWER_HEX = new Uint8Array(128);
for (const c of '0123456789abcdef') LOWER_HEX[c.charCodeAt(0)] = 1;

function isLowerHex(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i += 1) {
    const c = text.charCodeAt(i);
    if (c > 127 || LOWER_HEX[c] === 0) return false;
  }
  return true;
}

/** The start of `,"prevHash":"<hex>","hash":"<hex>"` ending at `end`, or -1 when it is not there in that form. */
function hashTailAt(line: string, end: number): number {
  const from = end - TAIL_LENGTH;
  const prevAt = from + PREV_KEY.length;
  const hashAt = prevAt + 64 + HASH_KEY.length;
  const ok = from >= 0 && line.startsWith(PREV_KEY, from) && line.startsWith(HASH_KEY, prevAt + 64) && line.charCodeAt(end - 1) === 0x22
    && isLowerHex(line, prevAt, prevAt + 64) && isLowerHex(line, hashAt, hashAt + 64);
  return ok ? from : -1;
}

const unquote = (text: string): string | null => (text === 'null' ? null : text.slice(1, -1));

export function scanLogLine(line: string): Extract<ExportRecord, { kind: 'log' }> | null {
  const t = MEMBERS.exec(line);
  if (!t) return null;
  const pos = t[0].length;
  // A line without a proof ends with its hash; searching it for the proof member would cost more than the rest.
  const proofAt = line.endsWith('"}') ? -1 : line.lastIndexOf(PROOF_KEY);
  const end = proofAt < 0 ? line.length - 1 : proofAt;
  const tailAt = hashTailAt(line, end);
  if (tailAt < pos || line.charCodeAt(line.length - 1) !== 0x7d) return null;
  const prevHashAt = tailAt + PREV_KEY.length;
  const prevHash = line.slice(prevHashAt, prevHashAt + 64);
  const hash = line.slice(end - 65, end - 1);
  const detailsText = line.slice(pos, tailAt);
  let details: unknown;
  let proof: unknown = null;
  try {
    details = detailsText === '{}' ? {} : JSON.parse(detailsText);
    if (proofAt >= 0) proof = JSON.parse(line.slice(proofAt + 9, -1));
  } catch {
    return null;
  }
  if (!details || typeof details !== 'object' || Array.isArray(details) || (detailsText !== '{}' && !isOwnJcs(details, detailsText))) return null;
  if (proof !== null && (!isProof(proof) || `,"proof":${proofText(proof)}}` !== line.slice(proofAt))) return null;
  const [, log, logSeqText, seqText, atText, tenant, actorSub, actorRole, action, outcome, recordingId, recordingPrevText, linkId, ip, userAgent, requestId] = t as unknown as [
    string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string];
  const logSeq = Number(logSeqText);
  const seq = Number(seqText);
  const recordingPrev = recordingPrevText === 'null' ? null : Number(recordingPrevText);
  const at = atReader.read(atText.slice(1, -1));
  if (!at || log === '""' || !Number.isSafeInteger(logSeq) || !Number.isSafeInteger(seq) || (recordingPrev !== null && recordingPrev >= logSeq)) return null;
  // The hash is no member of the canonical encoding; the quoted prevHash is sliced from the line as it stands.
  const parts: Omit<Parts, 'hash'> = {
    log, logSeq: logSeqText, seq: seqText, at: atText, tenant, actorSub, actorRole, action, outcome, recordingId, recordingPrev: recordingPrevText,
    linkId, ip, userAgent, requestId, details: detailsText, prevHash: line.slice(prevHashAt - 1, prevHashAt + 65),
  };
  const event: LogEvent = {
    log: unquote(log)!, logSeq, seq, at, tenant: unquote(tenant), actorSub: unquote(actorSub)!, actorRole: unquote(actorRole),
    action: unquote(action)!, outcome: unquote(outcome)!, recordingId: unquote(recordingId), recordingPrev, linkId: unquote(linkId),
    ip: unquote(ip), userAgent: unquote(userAgent), requestId: unquote(requestId), details: details as Record<string, unknown>,
    prevHash, hash,
  };
  return { kind: 'log', event, proof: proof as ProofJson | null, canonical: canonicalOf(parts) };
}

/**
 * One NDJSON line of an export. A per-log line must be byte for byte what the exporter writes
 * (member order, no spacing, canonical details): a reordered, repeated or reformatted member
 * is refused rather than quietly read one way and shown another.
 */
export function parseExportLine(line: string, lineNo: number): ExportRecord {
  if (line.startsWith('{"seq":')) return { kind: 'epoch', event: parseNdjsonLine(line, lineNo) };
  const fast = line.startsWith('{"log":"') ? scanLogLine(line) : null;
  if (fast) return fast;
  const hint = LOG_HINT.exec(line);
  const doc = parseJsonLine(line, lineNo, hint ? Number(hint[1]) : undefined);
  if (line.startsWith('{"checkpoint":')) {
    if (Object.keys(doc).length !== 1 || typeof doc.checkpoint !== 'string') throw new LogRecordError(undefined, `line ${lineNo}: malformed checkpoint line`);
    return { kind: 'checkpoint', note: doc.checkpoint };
  }
  if (!hint) throw new LogRecordError(undefined, `line ${lineNo}: neither an event nor a checkpoint`);
  const proof = doc.proof === undefined ? null : doc.proof;
  if (proof !== null && !isProof(proof)) throw new LogRecordError(Number(hint[1]), `line ${lineNo}: proof is not {treeSize, hashes}`);
  const event = toLogEvent(doc, `line ${lineNo}`);
  // `at` parsed only in its canonical form, so its text is what formatAt would write.
  let parts: Parts;
  try {
    parts = partsOf(event, doc.at as string);
  } catch (err) {
    // JSON numbers beyond the double range parse (as Infinity) but no event can hold them.
    throw new LogRecordError(event.logSeq, `line ${lineNo} (logSeq ${event.logSeq}): ${(err as Error).message}`);
  }
  if (lineOf(parts, proof) !== `${line}\n`) {
    throw new LogRecordError(event.logSeq, `line ${lineNo} (logSeq ${event.logSeq}): members are not exactly those the export writes, in its order and form`);
  }
  return { kind: 'log', event, proof, canonical: canonicalOf(parts) };
}

