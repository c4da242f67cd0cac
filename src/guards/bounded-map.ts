/**
 * A Map that holds at most `maxEntries` keys and forgets the least recently used one first.
 * Every guard keeps its per-IP or per-principal state in one of these, so that a flood of
 * distinct addresses or subjects costs bounded memory: the price is that an evicted key starts
 * again from a clean slate, which an attacker controlling that many sources could have had anyway.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value for `key`, marked as most recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** Returns the existing value (touched) or stores and returns `create()`, evicting if full. */
  getOrCreate(key: K, create: () => V): V {
    const existing = this.get(key);
    if (existing !== undefined) return existing;
    const value = create();
    this.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Removes every entry for which `stale` is true; callers run it now and then, not per request. */
  sweep(stale: (value: V, key: K) => boolean): void {
    for (const [key, value] of this.entries) if (stale(value, key)) this.entries.delete(key);
  }
}
