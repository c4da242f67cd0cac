/**
 * Waiting in tests: poll a condition under a generous bound rather than sleep for a guessed
 * time, so a loaded machine makes a test slower, never wrong.
 */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A moment `ms` after an ISO timestamp: the `now` of a pass run once that instant has passed. */
export function later(iso: string, ms = 1_000): Date {
  return new Date(Date.parse(iso) + ms);
}
