import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { readPrivateFile } from '../config/secrets.js';
import type { Db } from '../db/knex.js';
import type { ObjectStore } from '../storage/types.js';
import { IntervalWorker } from '../workers/interval-worker.js';
import { actorFields, auditActor } from './actor.js';
import { formatAt, isHexHash, jcs, parseCanonicalAt } from './canonical.js';
import { appendEvents, prepareEvent } from './chain.js';
import type { Anchor } from './types.js';

/**
 * Anchors: the chain head signed with an Ed25519 key that lives outside the database and
 * written to the object store. A superuser who rewrites or truncates the table cannot forge
 * them, so verification against anchors catches re-chained history and removed tails alike.
 */

export const ANCHOR_PREFIX = 'audit-anchors/';
/** Domain separation: the anchor key signs nothing that could be mistaken for an anchor. */
const SIGNING_CONTEXT = 'callvault-audit-anchor-v1\n';
/** S3 Object Lock retention of each anchor, where the bucket has Object Lock. */
export const ANCHOR_LOCK_YEARS = 7;
const MAX_ANCHOR_BYTES = 64 * 1024;

export interface AnchorKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyId: string;
  readonly publicKeyFile: string;
}

/** `x.pem` → `x.pub.pem`; any other name gets `.pub.pem` appended. */
export function publicKeyPathFor(privateKeyFile: string): string {
  return privateKeyFile.endsWith('.pem') ? `${privateKeyFile.slice(0, -4)}.pub.pem` : `${privateKeyFile}.pub.pem`;
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

function assertEd25519(key: KeyObject, file: string): void {
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an Ed25519 key`);
}

/**
 * Loads the anchor signing key, creating it (PKCS#8 PEM, mode 0600, plus a public `.pub.pem`
 * sibling) when `generate` is true and it does not exist yet.
 */
export async function ensureAnchorKey(file: string, generate: boolean): Promise<AnchorKey> {
  let pem: string;
  try {
    pem = (await readPrivateFile(file, 'AUDIT_ANCHOR_KEY_FILE')).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!generate) throw new Error(`The audit anchor key ${file} does not exist (AUDIT_ANCHOR_KEY_FILE)`);
    pem = await createKeyFile(file);
  }
  const privateKey = createPrivateKey(pem);
  assertEd25519(privateKey, file);
  const publicKey = createPublicKey(privateKey);
  const publicKeyFile = publicKeyPathFor(file);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  // Best effort: a read-only secret mount may refuse it, and the public key can be derived anyway.
  await writeFile(publicKeyFile, publicPem, { mode: 0o644, flag: 'wx' }).catch(() => undefined);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), publicKeyFile };
}

async function createKeyFile(file: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
    return pem;
  } catch (err) {
    // Another process created it first: everyone must use that one.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFile(file, 'utf8');
    throw err;
  }
}

/** A public key PEM, or a private key PEM from which the public key is derived. */
export async function loadPublicKey(file: string): Promise<KeyObject> {
  const pem = await readFile(file, 'utf8');
  const key = pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  assertEd25519(key, file);
  return key;
}

function anchorMessage(a: Pick<Anchor, 'seq' | 'hash' | 'at'>): Buffer {
  return Buffer.from(SIGNING_CONTEXT + jcs({ at: a.at, hash: a.hash, seq: a.seq }), 'utf8');
}

/** Null when the signature is valid under one of `keys`, else what is wrong. */
export function anchorSignatureProblem(anchor: Anchor, keys: readonly KeyObject[]): string | null {
  const key = keys.find((k) => keyIdOf(k) === anchor.keyId);
  if (!key) return `signed by unknown key ${anchor.keyId.slice(0, 16)}…`;
  const ok = verify(null, anchorMessage(anchor), key, Buffer.from(anchor.signature, 'base64'));
  return ok ? null : 'signature is invalid';
}

export interface SignAnchorOptions {
  /** 'scheduled' skips when nothing but an earlier anchoring happened since the last anchor. */
  readonly trigger?: 'manual' | 'scheduled';
  readonly generateKey?: boolean;
}

export interface SignedAnchor extends Anchor { readonly objectKey: string }

/**
 * Appends an 'audit.anchored' event and signs the chain at exactly that event, so the anchor
 * also covers every event before it. Returns null when a scheduled run had nothing new to anchor.
 */
export async function signAnchor(db: Db, store: ObjectStore, keyFile: string, opts: SignAnchorOptions = {}): Promise<SignedAnchor | null> {
  const trigger = opts.trigger ?? 'manual';
  const key = await ensureAnchorKey(keyFile, opts.generateKey ?? false);
  if (trigger === 'scheduled' && await headIsAnchored(db, store)) return null;
  const event = prepareEvent({
    tenant: null, ...actorFields(auditActor('system:audit-anchor')), action: 'audit.anchored', outcome: 'allowed',
    details: { trigger, keyId: key.keyId },
  }, new Date());
  const [head] = await db.transaction((trx) => appendEvents(trx, [event]));
  if (!head) throw new Error('anchoring appended no event');
  return storeAnchor(store, key, head);
}

/** Signs `(seq, hash)` of the single chain now and stores the anchor under Object Lock. */
export async function storeAnchor(store: ObjectStore, key: AnchorKey, head: { readonly seq: number; readonly hash: string }): Promise<SignedAnchor> {
  const signedAt = new Date();
  const at = formatAt(signedAt);
  const body = { seq: head.seq, hash: head.hash, at };
  const anchor: Anchor = { ...body, signature: sign(null, anchorMessage(body), key.privateKey).toString('base64'), keyId: key.keyId };
  const objectKey = `${anchorKeyPrefix(head.seq)}${at.replace(/[-:]/g, '')}.json`;
  await store.put(objectKey, Buffer.from(`${JSON.stringify(anchor)}\n`), { retainUntil: lockedUntil(signedAt) });
  return { ...anchor, objectKey };
}

/** When the Object Lock retention of evidence signed at `signedAt` ends. */
export function lockedUntil(signedAt: Date): Date {
  const retainUntil = new Date(signedAt);
  retainUntil.setUTCFullYear(retainUntil.getUTCFullYear() + ANCHOR_LOCK_YEARS);
  return retainUntil;
}

/** True when an anchor of the single chain at `seq` is in the store. */
export async function isAnchored(store: ObjectStore, seq: number): Promise<boolean> {
  for await (const found of store.list(anchorKeyPrefix(seq))) if (found) return true;
  return false;
}

function anchorKeyPrefix(seq: number): string {
  return `${ANCHOR_PREFIX}${String(seq).padStart(20, '0')}-`;
}

/** True when there is nothing to anchor, or the last event is an anchoring that was stored. */
async function headIsAnchored(db: Db, store: ObjectStore): Promise<boolean> {
  const head = await db('audit_events').select(db.raw('seq::text AS seq'), 'action').orderBy('audit_events.seq', 'desc')
    .first<{ seq: string; action: string } | undefined>();
  if (!head) return true;
  if (head.action !== 'audit.anchored') return false;
  // An anchoring whose upload failed is anchored again rather than skipped.
  return isAnchored(store, Number(head.seq));
}

/** Parses one anchor document; throws Error naming `source` when it is not a well-formed anchor. */
export function parseAnchor(text: string, source: string): Anchor {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`anchor ${source} is not JSON`);
  }
  const d = (doc ?? {}) as Record<string, unknown>;
  const valid = typeof d.seq === 'number' && Number.isSafeInteger(d.seq) && d.seq > 0 && isHexHash(d.hash)
    && typeof d.at === 'string' && parseCanonicalAt(d.at) !== null && typeof d.signature === 'string'
    && /^[A-Za-z0-9+/]+={0,2}$/.test(d.signature) && isHexHash(d.keyId);
  if (!valid) throw new Error(`anchor ${source} is malformed`);
  return { seq: d.seq as number, hash: d.hash as string, at: d.at as string, signature: d.signature as string, keyId: d.keyId as string, source };
}

async function readSmall(stream: Readable, source: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ANCHOR_BYTES) {
      stream.destroy();
      throw new Error(`anchor ${source} is too large`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Every anchor in the store, by seq. Throws when one cannot be read or parsed. */
export async function loadAnchors(store: ObjectStore): Promise<Anchor[]> {
  const anchors: Anchor[] = [];
  for await (const info of store.list(ANCHOR_PREFIX)) {
    if (!info.key.endsWith('.json')) continue;
    anchors.push(parseAnchor(await readSmall(await store.get(info.key), info.key), info.key));
  }
  return anchors.sort((a, b) => a.seq - b.seq);
}

/** Anchors copied out of the store into a directory, for offline verification. */
export async function loadAnchorsFromDir(dir: string): Promise<Anchor[]> {
  const anchors: Anchor[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    const text = await readFile(file, 'utf8');
    if (text.length > MAX_ANCHOR_BYTES) throw new Error(`anchor ${file} is too large`);
    anchors.push(parseAnchor(text, file));
  }
  return anchors.sort((a, b) => a.seq - b.seq);
}

export interface AnchorSchedule { stop(): Promise<void> }

/**
 * Anchors every intervalMs (first run after one interval); errors go to onError and the schedule
 * goes on. A slow run delays the next rather than queueing more behind it.
 */
export function startAnchorSchedule(db: Db, store: ObjectStore, keyFile: string, intervalMs: number, onError: (err: unknown) => void): AnchorSchedule {
  const pass = (): Promise<unknown> => signAnchor(db, store, keyFile, { trigger: 'scheduled' });
  return new IntervalWorker('audit-anchor', intervalMs, pass, onError, { delayFirst: true }).start();
}
