/** At most `limit` of the functions given to run() run at once; the others wait their turn, first come first served. */
export class ConcurrencyLimit {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a concurrency limit must be a positive integer, not ${limit}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active < this.limit) this.#active += 1;
    // A finishing run hands its place straight to the next in line, so #active stays counted.
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active -= 1;
    }
  }
}
