import type { Logger } from '../http/logger.js';

export interface IntervalWorkerOptions {
  /** Sleep one interval before the first pass instead of running it at start. */
  readonly delayFirst?: boolean;
}

/**
 * The one periodic runner: runs one pass, sleeps, repeats. Passes never overlap and never queue
 * up behind a slow one: the next starts an interval after the last ended. The sleep is abortable
 * so `stop()` returns promptly, and `stop()` waits for a pass in progress to finish rather than
 * cutting it off: every pass is written to be safe to interrupt, but finishing it is kinder to
 * the next one. A failed pass is reported (to the logger, or to the given function) and retried
 * at the next interval.
 */
export class IntervalWorker {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly pass: (now: Date) => Promise<unknown>,
    private readonly onError: Logger | ((err: unknown) => void),
    private readonly opts: IntervalWorkerOptions = {},
  ) {}

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    if (this.opts.delayFirst) await sleep(this.intervalMs, this.abort.signal);
    while (!this.abort.signal.aborted) {
      try {
        await this.pass(new Date());
      } catch (err) {
        this.report(err);
      }
      await sleep(this.intervalMs, this.abort.signal);
    }
  }

  private report(err: unknown): void {
    if (typeof this.onError === 'function') this.onError(err);
    else this.onError.error({ err, worker: this.name }, 'worker pass failed; it will be retried');
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
