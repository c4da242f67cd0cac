/** True when `err` is a system error with one of `codes` (ENOENT, EEXIST...). */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}
