// @ts-check
/**
 * Checking per-tenant audit logs in the browser with WebCrypto (docs/audit.md, "Per-tenant
 * logs"): the Ed25519 signature of a checkpoint (a C2SP signed note) under a verifier key, and
 * RFC 9162 inclusion proofs of events in the checkpoint's tree.
 */
import { canonical, hexBytes, toHex } from './chain.js';

/** @typedef {{ name: string, keyId: Uint8Array, publicKey: Uint8Array, text: string }} VerifierKey */
/** @typedef {{ origin: string, size: number, rootHash: Uint8Array, text: string }} Checkpoint */

const EM_DASH = '\u2014 ';

/** @param {string} text */
function base64Bytes(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error('not base64');
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** @param {...Uint8Array} parts */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** @param {Uint8Array} bytes */
async function digest(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)));
}

/** @param {Uint8Array} a @param {Uint8Array} b */
function same(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The 4-byte key ID of an Ed25519 note key: SHA-256(name || 0x0A || 0x01 || key)[0:4]. */
/** @param {string} name @param {Uint8Array} publicKey */
async function noteKeyId(name, publicKey) {
  return (await digest(concat(new TextEncoder().encode(name), Uint8Array.of(0x0a, 0x01), publicKey))).slice(0, 4);
}

/**
 * Parses `<name>+<8 hex key id>+<base64(0x01 || 32-byte key)>` and checks the id.
 * @param {string} text
 * @returns {Promise<VerifierKey>}
 */
export async function parseVerifierKey(text) {
  const parts = text.trim().split('+');
  // The base64 part may itself hold '+': only the first two separators split.
  const [name, idHex] = parts;
  const typed = base64Bytes(parts.slice(2).join('+'));
  if (!name || !idHex || !/^[0-9a-f]{8}$/.test(idHex) || typed.length !== 33 || typed[0] !== 0x01) throw new Error('not an Ed25519 verifier key');
  const publicKey = typed.slice(1);
  const keyId = await noteKeyId(name, publicKey);
  if (toHex(new Uint8Array(keyId).buffer) !== idHex) throw new Error('the verifier key\'s id does not match its name and key');
  return { name, keyId, publicKey, text: text.trim() };
}

/**
 * Verifies a signed checkpoint: a signature under the verifier key's name and id, valid over the
 * note text, and a checkpoint text of that origin. Throws with the reason otherwise.
 * @param {string} note
 * @param {VerifierKey} key
 * @returns {Promise<Checkpoint>}
 */
export async function verifyCheckpoint(note, key) {
  const split = note.indexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new Error('the checkpoint is not a signed note');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  const ours = lines.filter((l) => l.startsWith(`${EM_DASH}${key.name} `)).map((l) => base64Bytes(l.slice(EM_DASH.length + key.name.length + 1)))
    .filter((blob) => blob.length === 68 && same(blob.slice(0, 4), key.keyId));
  if (ours.length === 0) throw new Error(`the checkpoint carries no signature by ${key.name}`);
  const publicKey = await crypto.subtle.importKey('raw', new Uint8Array(key.publicKey), { name: 'Ed25519' }, false, ['verify']);
  const message = new TextEncoder().encode(text);
  let valid = false;
  for (const blob of ours) valid ||= await crypto.subtle.verify('Ed25519', publicKey, new Uint8Array(blob.slice(4)), message);
  if (!valid) throw new Error('the checkpoint\'s signature does not verify');
  const [origin, sizeLine, rootLine] = text.slice(0, -1).split('\n');
  if (origin !== key.name) throw new Error(`the checkpoint is of ${origin}, not ${key.name}`);
  const size = Number(sizeLine);
  if (!/^(?:0|[1-9]\d*)$/.test(sizeLine ?? '') || !Number.isSafeInteger(size)) throw new Error('the checkpoint\'s size is not a number');
  const rootHash = base64Bytes(rootLine ?? '');
  if (rootHash.length !== 32) throw new Error('the checkpoint\'s root is not 32 bytes');
  return { origin, size, rootHash, text };
}

/**
 * The RFC 9162 leaf hash of a per-log event: SHA-256(0x00 || canonical).
 * @param {import('./chain.js').AuditEventLine} e
 */
export async function leafHash(e) {
  return digest(concat(Uint8Array.of(0x00), new TextEncoder().encode(canonical(e))));
}

/**
 * RFC 9162 section 2.1.3.2: does `leaf` at `index` belong to the tree of `size` with `root`?
 * @param {number} index
 * @param {number} size
 * @param {Uint8Array} leaf
 * @param {string[]} proof hex hashes
 * @param {Uint8Array} root
 */
export async function verifyInclusion(index, size, leaf, proof, root) {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const half = (/** @type {number} */ n) => Math.floor(n / 2);
  for (const hex of proof) {
    const p = hexBytes(hex);
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await digest(concat(Uint8Array.of(0x01), p, r));
      while (fn % 2 === 0 && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      r = await digest(concat(Uint8Array.of(0x01), r, p));
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && same(r, root);
}
