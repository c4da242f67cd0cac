import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { cipherRangeFor, createDecryptStream, DEFAULT_SEGMENT_SIZE } from '../crypto/index.js';
import { IntegrityError } from '../errors.js';
import { dataKeyCacheKey, type DataKeyCache } from '../keys/cache.js';
import type { KeyProvider } from '../keys/types.js';
import type { Recording } from '../recordings/types.js';
import type { ObjectStore } from '../storage/types.js';

/**
 * The decrypt path: unwraps the recording's data key (through the short-lived cache, so the
 * Range requests of one playback cost one key-service call), reads only the ciphertext segments
 * that the requested plaintext range touches, and authenticates each before releasing a byte.
 */
export interface PlaybackDeps {
  readonly store: Pick<ObjectStore, 'get'>;
  readonly keys: Pick<KeyProvider, 'decryptDataKey'>;
  readonly keyCache: DataKeyCache;
}

export interface PlaybackRange { readonly start: number; readonly endInclusive: number }

export async function unwrapDataKey(deps: Omit<PlaybackDeps, 'store'>, r: Recording): Promise<Buffer> {
  if (!r.wrappedKey || !r.keyRef) throw new IntegrityError('The recording has no data key');
  const wrapped = r.wrappedKey;
  const keyRef = r.keyRef;
  const cached = await deps.keyCache.getOrLoad(dataKeyCacheKey({ tenant: r.tenant, recordingId: r.id }, keyRef, wrapped), () => deps.keys.decryptDataKey(wrapped, { tenant: r.tenant, recordingId: r.id }, keyRef));
  // The cache may wipe its copy at any moment; the stream keeps its own and wipes it when done.
  return Buffer.from(cached);
}

/** Plaintext bytes [start..endInclusive] of the recording (the whole recording by default). */
export async function openPlayback(deps: PlaybackDeps, r: Recording, range?: PlaybackRange): Promise<Readable> {
  if (!r.objectKey || !r.cryptoHeader) throw new IntegrityError('The recording has no stored object');
  const start = range?.start ?? 0;
  const endInclusive = range?.endInclusive ?? r.sizeBytes - 1;
  const key = await unwrapDataKey(deps, r);
  const segmentSize = r.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const cipher = cipherRangeFor(r.sizeBytes, segmentSize, start, endInclusive);
  let source: Readable;
  try {
    source = await deps.store.get(r.objectKey, { start: cipher.cipherStart, endInclusive: cipher.cipherEndInclusive });
  } catch (err) {
    key.fill(0);
    throw err;
  }
  const decrypt = createDecryptStream({ key, recordingId: r.id, header: r.cryptoHeader, plaintextSize: r.sizeBytes, start, endInclusive });
  const out = new PassThrough();
  pipeline(source, decrypt, out).catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err)))).finally(() => key.fill(0));
  return out;
}
