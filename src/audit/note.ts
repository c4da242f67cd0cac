import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { hasControlCharacters, isKeyName } from '../lib/log-names.js';

export { isKeyName };

/**
 * C2SP signed notes (c2sp.org/signed-note), Ed25519 only: the envelope of checkpoints, in the
 * byte format of golang.org/x/mod/sumdb/note, so transparency-log tooling reads what we sign.
 *
 *   <text, ending in a newline>
 *   <blank line>
 *   — <key name> <base64(4-byte key ID || 64-byte signature)>     one line per signature
 *
 * The signature covers the text including its final newline. The key ID is the first four
 * bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte public key); a verifier key is written
 * `<name>+<8 hex digits of the key ID>+<base64(0x01 || public key)>`.
 */

const ED25519_TYPE = 0x01;
const EM_DASH_PREFIX = '\u2014 ';
/** c2sp.org/signed-note asks verifiers to cap signatures and accept at least 16. */
const MAX_SIGNATURES = 100;
const ED25519_SIGNATURE_BYTES = 64;
/** SPKI DER of an Ed25519 public key is this 12-byte header followed by the 32 key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class NoteError extends Error {
  override readonly name = 'NoteError';
}

export interface NoteSignature {
  readonly name: string;
  /** Big-endian uint32 key ID, as 4 bytes. */
  readonly keyId: Buffer;
  readonly signature: Buffer;
}

export interface Note {
  /** The signed text, final newline included. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  readonly publicKey: KeyObject;
}


/** Lone UTF-16 surrogates cannot be encoded as UTF-8: such a string is no valid note. */
function isWellFormedText(text: string): boolean {
  return !/[\uD800-\uDFFF]/u.test(text);
}

/** Standard base64 with padding, and only its one canonical spelling of the bytes. */
export function decodeCanonicalBase64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

export function ed25519PublicBytes(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new NoteError('signed notes here use Ed25519 keys only');
  return publicKey.export({ type: 'spki', format: 'der' }).subarray(ED25519_SPKI_PREFIX.length);
}

export function noteKeyId(name: string, publicKey: KeyObject): Buffer {
  return createHash('sha256').update(name, 'utf8').update(Buffer.of(0x0a, ED25519_TYPE)).update(ed25519PublicBytes(publicKey))
    .digest().subarray(0, 4);
}

export function noteVerifier(name: string, publicKey: KeyObject): NoteVerifier {
  if (!isKeyName(name)) throw new NoteError(`"${name}" is not a valid key name`);
  return { name, keyId: noteKeyId(name, publicKey), publicKey };
}

/** The verifier key string transparency-log tooling is configured with. */
export function formatVerifierKey(v: NoteVerifier): string {
  const typed = Buffer.concat([Buffer.of(ED25519_TYPE), ed25519PublicBytes(v.publicKey)]);
  return `${v.name}+${v.keyId.toString('hex')}+${typed.toString('base64')}`;
}

export function parseVerifierKey(text: string): NoteVerifier {
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  const [name, idHex, typedB64] = [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
  if (first < 0 || second < 0 || !isKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError('malformed verifier key');
  const typed = decodeCanonicalBase64(typedB64);
  if (!typed || typed.length !== 33 || typed[0] !== ED25519_TYPE) throw new NoteError('verifier key is not a 32-byte Ed25519 key');
  const publicKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, typed.subarray(1)]), format: 'der', type: 'spki' });
  const verifier = noteVerifier(name, publicKey);
  if (verifier.keyId.toString('hex') !== idHex) throw new NoteError('verifier key ID does not match its name and key');
  return verifier;
}

function assertNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  if (hasControlCharacters(text) || !isWellFormedText(text)) throw new NoteError('note text holds control characters or invalid UTF-16');
}

/** Signs `text` (which must end in a newline) and returns the signed note. */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  assertNoteText(text);
  const verifier = noteVerifier(name, createPublicKey(privateKey));
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n${EM_DASH_PREFIX}${name} ${Buffer.concat([verifier.keyId, signature]).toString('base64')}\n`;
}

function decodeNote(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
  } catch {
    throw new NoteError('note is not valid UTF-8');
  }
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(EM_DASH_PREFIX)) throw new NoteError('malformed signature line');
  const rest = line.slice(EM_DASH_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = rest.slice(0, space);
  const blob = space < 0 ? null : decodeCanonicalBase64(rest.slice(space + 1));
  if (!isKeyName(name) || !blob || blob.length < 5) throw new NoteError('malformed signature line');
  return { name, keyId: blob.subarray(0, 4), signature: blob.subarray(4) };
}

/**
 * Splits a signed note into its text and signatures without verifying anything. Strict: the
 * note must be valid UTF-8 without control characters, end in a newline, carry between one
 * and 100 signatures, and repeat none of them.
 */
export function parseNote(input: string | Uint8Array): Note {
  const note = decodeNote(input);
  assertNoteText(note);
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('note has no signature block');
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('note has too many signatures');
  if (new Set(lines).size !== lines.length) throw new NoteError('note repeats a signature line');
  return { text: note.slice(0, split + 1), signatures: lines.map(parseSignatureLine) };
}

/**
 * Opens a signed note with the trusted verifiers (c2sp.org/signed-note): signatures by unknown
 * keys are ignored, any signature by a known key must verify, and at least one must. Returns
 * the note and the names of the keys that signed it.
 */
export function openNote(input: string | Uint8Array, verifiers: readonly NoteVerifier[]): Note & { readonly verifiedBy: readonly string[] } {
  const note = parseNote(input);
  const message = Buffer.from(note.text, 'utf8');
  const verifiedBy: string[] = [];
  for (const sig of note.signatures) {
    const known = verifiers.find((v) => v.name === sig.name && v.keyId.equals(sig.keyId));
    if (!known) continue;
    const valid = sig.signature.length === ED25519_SIGNATURE_BYTES && verify(null, message, known.publicKey, sig.signature);
    if (!valid) throw new NoteError(`the signature of ${sig.name} does not verify: the note was altered or forged`);
    verifiedBy.push(sig.name);
  }
  if (verifiedBy.length === 0) throw new NoteError('no signature by a trusted key');
  return { ...note, verifiedBy };
}
