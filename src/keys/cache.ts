import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { contextPairs } from './context.js';
import type { EncryptionContext } from './types.js';

export interface DataKeyCacheOptions {
  /** Entries kept at most; the least recently used goes first. Default 256. */
  maxEntries?: number;
  /** Lifetime from load, not sliding, so a hot key still leaves memory. Default 60 000 ms. */
  ttlMs?: number;
  /**
   * Told of every lookup: 'miss' when it calls the loader (the key service), 'hit' when it does
   * not (a cached key, or a load already in flight for the same key).
   */
  onLookup?: (result: 'hit' | 'miss') => void;
}

interface Flight { discarded: boolean; promise: Promise<Buffer> }

/**
 * Unwrapped data keys, held briefly so that a burst of range requests on one recording costs one
 * key-service call. Keys leaving the cache (expiry, LRU eviction, replacement, delete, clear) are
 * zero-filled at once through lru-cache's dispose, on a timer for expiry (ttlAutopurge), so key
 * material does not linger until the next access.
 *
 * getOrLoad hands out the cached Buffer itself. Callers must not retain it: use it synchronously
 * (e.g. to create a cipher, which copies the key) or copy it, because it may be wiped at any later
 * turn of the event loop.
 */
export class DataKeyCache {
  private readonly entries: LRUCache<string, Buffer>;
  private readonly loading = new Map<string, Flight>();
  private readonly onLookup: (result: 'hit' | 'miss') => void;

  constructor(opts: DataKeyCacheOptions = {}) {
    const maxEntries = opts.maxEntries ?? 256;
    const ttlMs = opts.ttlMs ?? 60_000;
    this.onLookup = opts.onLookup ?? (() => undefined);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError('ttlMs must be a positive number');
    this.entries = new LRUCache<string, Buffer>({
      max: maxEntries, ttl: ttlMs, ttlAutopurge: true, updateAgeOnGet: false, allowStale: false,
      dispose: (key) => { key.fill(0); },
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The cached key, or the loader's result, which the cache then owns (and will wipe). Concurrent
   * calls for one cacheKey share a single loader call; a failed load is not cached.
   */
  getOrLoad(cacheKey: string, loader: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.entries.get(cacheKey);
    if (hit !== undefined) {
      this.onLookup('hit');
      return Promise.resolve(hit);
    }
    const inFlight = this.loading.get(cacheKey);
    if (inFlight !== undefined) {
      this.onLookup('hit');
      return inFlight.promise;
    }
    this.onLookup('miss');
    // Registered before the loader runs, so even a loader that throws synchronously is cleaned up.
    const flight = { discarded: false } as Flight;
    this.loading.set(cacheKey, flight);
    flight.promise = this.load(cacheKey, flight, loader);
    return flight.promise;
  }

  /** Drops and wipes one key, e.g. when its recording is erased; a load in flight is not cached. */
  delete(cacheKey: string): void {
    this.entries.delete(cacheKey);
    this.discardFlight(cacheKey);
  }

  /** Drops and wipes every key; loads in flight finish for their callers but are not cached. */
  clear(): void {
    this.entries.clear();
    for (const cacheKey of [...this.loading.keys()]) this.discardFlight(cacheKey);
  }

  private async load(cacheKey: string, flight: Flight, loader: () => Promise<Buffer>): Promise<Buffer> {
    try {
      const key = await loader();
      if (!flight.discarded) this.entries.set(cacheKey, key);
      return key;
    } finally {
      if (this.loading.get(cacheKey) === flight) this.loading.delete(cacheKey);
    }
  }

  private discardFlight(cacheKey: string): void {
    const flight = this.loading.get(cacheKey);
    if (flight === undefined) return;
    flight.discarded = true;
    this.loading.delete(cacheKey);
  }
}

/**
 * The cache key for one unwrapped data key. It covers the encryption context as well as the
 * wrapped bytes and keyRef, so a cache hit can never bypass the context check the provider makes
 * (a wrapped key copied to another recording's row misses), and a rewrapped key never aliases a
 * stale entry.
 */
export function dataKeyCacheKey(ctx: EncryptionContext, keyRef: string, wrapped: Buffer): string {
  const { tenant, recordingId } = contextPairs(ctx);
  const material = JSON.stringify([tenant, recordingId, keyRef, wrapped.toString('base64')]);
  return createHash('sha256').update(material).digest('base64url');
}
