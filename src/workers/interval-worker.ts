import type { Logger } from '../http/logger.js';

/**
 * Runs one pass, sleeps, repeats. The sleep is abortable so `stop()` returns promptly, and
 * `stop()` waits for a pass in progress to finish rather than cutting it off: every pass is
 * written to be safe to interrupt, but finishing it is kinder to the next one.
 */
export class IntervalWorker {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly pass: (now: Date) => Promise<unknown>,
    private readonly logger: Logger,
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
    while (!this.abort.signal.aborted) {
      try {
        await this.pass(new Date());
      } catch (err) {
        this.logger.error({ err, worker: this.name }, 'worker pass failed; it will be retried');
      }
      await sleep(this.intervalMs, this.abort.signal);
    }
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
