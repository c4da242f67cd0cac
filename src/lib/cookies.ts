/**
 * Reading one cookie from a Cookie header and writing Set-Cookie values, without a dependency.
 * Only the first occurrence of a name counts: a browser sends the most specific path first, and a
 * `__Host-` cookie cannot be shadowed by one set for a subdomain or another path.
 */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header || header.length > 8_192) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value.length > 0 ? value : null;
  }
  return null;
}

export interface CookieOptions {
  readonly maxAgeSeconds?: number;
  readonly sameSite: 'Strict' | 'Lax';
  readonly path?: string;
  readonly secure: boolean;
}

/** HttpOnly always: no cookie of the vault is ever meant for scripts. */
export function serializeCookie(name: string, value: string, opts: CookieOptions): string {
  const parts = [`${name}=${value}`, `Path=${opts.path ?? '/'}`, 'HttpOnly', `SameSite=${opts.sameSite}`];
  if (opts.secure) parts.push('Secure');
  if (opts.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(opts.maxAgeSeconds))}`);
  return parts.join('; ');
}
