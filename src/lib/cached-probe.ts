/**
 * A health probe answered from memory for `ttlMs` after each real check, with concurrent callers
 * sharing the check in flight. Load balancers probe every few seconds from several nodes; a
 * dependency billed or throttled per call (KMS) must not be asked once per probe.
 */
export class CachedProbe<T> {
  private last: { readonly value: T; readonly at: number } | null = null;
  private inflight: Promise<T> | null = null;

  constructor(private readonly check: () => Promise<T>, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  get(): Promise<T> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return Promise.resolve(this.last.value);
    this.inflight ??= this.check().then((value) => {
      this.last = { value, at: this.now() };
      return value;
    }).finally(() => { this.inflight = null; });
    return this.inflight;
  }
}
