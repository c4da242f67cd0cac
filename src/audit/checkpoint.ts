import type { KeyObject } from 'node:crypto';
import { formatAt, parseCanonicalAt } from './canonical.js';
import { HASH_BYTES, verifyConsistency } from './merkle.js';
import { isLogNamespace } from '../lib/log-names.js';
import { NoteError, decodeCanonicalBase64, isKeyName, noteVerifier, openNote, parseNote, signNote, type NoteSignature } from './note.js';

/**
 * Checkpoints (c2sp.org/tlog-checkpoint): the signed tree head of one audit log, a signed note
 * whose text is
 *
 *   <origin>
 *   <tree size, decimal, no leading zeros>
 *   <base64 of the RFC 9162 root hash>
 *   callvault-time <RFC 3339 UTC with milliseconds>     extension line: when it was signed
 *
 * Origins: `<namespace>/tenant/<tenant>` for a tenant's log and `<namespace>/system` for the
 * log of events that belong to no tenant, where the namespace is the deployment's stable
 * schema-less URL, e.g. `callvault.example.com/prod-eu`. The note is signed under the origin
 * as key name (as the spec recommends), so a checkpoint of one tenant's log can never pass as
 * another's. No origin can be mistaken for the first line of an anchor message
 * (`callvault-audit-anchor-v1`, which holds no `/`), so the anchor key may sign both.
 */

export const TIME_EXTENSION = 'callvault-time ';

export class CheckpointError extends NoteError {}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  /** When the checkpoint was signed (the `callvault-time` extension line), if present. */
  readonly time: Date | null;
  /** Extension lines other than the time, in order. */
  readonly extensions: readonly string[];
}

export type LogName = { readonly tenant: string } | 'system';

/** The origin of one log of a deployment: see the module comment. */
export function logOrigin(namespace: string, log: LogName): string {
  if (!isLogNamespace(namespace)) {
    throw new CheckpointError(`"${namespace}" is not a schema-less URL fit to name audit logs`);
  }
  const origin = log === 'system' ? `${namespace}/system` : `${namespace}/tenant/${log.tenant}`;
  if (!isKeyName(origin) || (log !== 'system' && log.tenant.includes('/'))) throw new CheckpointError(`cannot name the log of ${JSON.stringify(log)}`);
  return origin;
}

/** The note text of a checkpoint. */
export function checkpointText(c: Omit<Checkpoint, 'extensions'> & { readonly extensions?: readonly string[] }): string {
  if (!isKeyName(c.origin)) throw new CheckpointError('origin must be non-empty, without spaces or "+"');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new CheckpointError('tree size must be a non-negative integer');
  if (c.rootHash.length !== HASH_BYTES) throw new CheckpointError('root hash must be 32 bytes');
  const extensions = [...(c.time ? [`${TIME_EXTENSION}${formatAt(c.time)}`] : []), ...(c.extensions ?? [])];
  for (const line of extensions) {
    if (line.length === 0 || line.includes('\n')) throw new CheckpointError('extension lines must be single, non-empty lines');
  }
  return [c.origin, String(c.size), c.rootHash.toString('base64'), ...extensions].map((line) => `${line}\n`).join('');
}

/** The signed checkpoint, signed under its origin with the anchor key. */
export function signCheckpoint(c: Omit<Checkpoint, 'extensions'>, privateKey: KeyObject): string {
  return signNote(checkpointText(c), c.origin, privateKey);
}

function parseSize(line: string): number {
  const size = /^(?:0|[1-9]\d*)$/.test(line) ? Number(line) : NaN;
  if (!Number.isSafeInteger(size)) throw new CheckpointError('tree size is not a decimal integer without leading zeros');
  return size;
}

/** Parses checkpoint text strictly: three lines, then non-empty, distinct extension lines. */
export function parseCheckpointText(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointError('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeLine, rootLine, ...rest] = lines;
  if (origin === undefined || sizeLine === undefined || rootLine === undefined) throw new CheckpointError('checkpoint has fewer than three lines');
  if (!isKeyName(origin)) throw new CheckpointError('origin must be non-empty, without spaces or "+"');
  const rootHash = decodeCanonicalBase64(rootLine);
  if (!rootHash || rootHash.length !== HASH_BYTES) throw new CheckpointError('root hash is not the base64 of 32 bytes');
  if (rest.some((line) => line.length === 0)) throw new CheckpointError('checkpoint has an empty extension line');
  if (new Set(rest).size !== rest.length) throw new CheckpointError('checkpoint repeats an extension line');
  const timeLines = rest.filter((line) => line.startsWith(TIME_EXTENSION));
  if (timeLines.length > 1) throw new CheckpointError('checkpoint has more than one time');
  const time = timeLines[0] === undefined ? null : parseCanonicalAt(timeLines[0].slice(TIME_EXTENSION.length));
  if (timeLines.length === 1 && !time) throw new CheckpointError('checkpoint time is not RFC 3339 UTC with milliseconds');
  return { origin, size: parseSize(sizeLine), rootHash, time, extensions: rest.filter((line) => !line.startsWith(TIME_EXTENSION)) };
}

/** Parses a signed checkpoint without verifying its signatures. */
export function parseCheckpoint(note: string | Uint8Array): { readonly checkpoint: Checkpoint; readonly signatures: readonly NoteSignature[] } {
  const parsed = parseNote(note);
  return { checkpoint: parseCheckpointText(parsed.text), signatures: parsed.signatures };
}

/**
 * Verifies a signed checkpoint with the anchor public key: the note must carry a valid
 * signature under its own origin by that key (other signatures, e.g. witnesses', are ignored
 * unless they claim to be this key). When `origin` is given the checkpoint must be of that log.
 */
export function verifyCheckpoint(note: string | Uint8Array, publicKey: KeyObject, origin?: string): Checkpoint {
  const { checkpoint } = parseCheckpoint(note);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw new CheckpointError(`checkpoint is of log ${checkpoint.origin}, not ${origin}`);
  }
  openNote(note, [noteVerifier(checkpoint.origin, publicKey)]);
  return checkpoint;
}

/**
 * Checks that the log of checkpoint `newer` extends the log of checkpoint `older`: both signed
 * by the key under the same origin, and the RFC 9162 consistency proof holds between their roots.
 */
export function verifyCheckpointConsistency(
  older: string | Uint8Array, newer: string | Uint8Array, proof: readonly Uint8Array[], publicKey: KeyObject,
): { readonly older: Checkpoint; readonly newer: Checkpoint } {
  const first = verifyCheckpoint(older, publicKey);
  const second = verifyCheckpoint(newer, publicKey, first.origin);
  if (first.size > second.size) throw new CheckpointError(`checkpoint of size ${first.size} is newer than the one of size ${second.size}`);
  if (!verifyConsistency(first.size, second.size, first.rootHash, second.rootHash, proof)) {
    throw new CheckpointError(`the log of size ${second.size} does not extend the log of size ${first.size}: history was rewritten`);
  }
  return { older: first, newer: second };
}
