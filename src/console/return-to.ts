/**
 * Where a sign-in returns to: the console page the browser asked for before it had a session
 * (path and query), and its fragment (`#t=90`) when the sign-in page's script passes it on. Only
 * a path of this console is accepted, so a crafted link cannot turn sign-in into a redirect to
 * another site; anything else returns to the console's home.
 */
export const CONSOLE_HOME = '/console/';

const MAX_LENGTH = 1024;
// Path, then optional query and fragment, in URL characters only: no backslash, space or quote.
const CONSOLE_URL = /^\/console\/[\w\-.~!$&'()*+,;=:@%/]*(?:\?[\w\-.~!$&'()*+,;=:@%/?]*)?(?:#[\w\-.~!$&'()*+,;=:@%/?]*)?$/;
// A second slash would start an authority; dot segments and encoded dots or slashes would leave the console.
const ESCAPES = /\/\/|\/\.|%2e|%2f|%5c/i;
const SIGN_IN_PATHS = ['/console/sign-in', '/console/signed-out', '/console/oidc/'];

export function returnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_LENGTH || !CONSOLE_URL.test(value) || ESCAPES.test(value)) return CONSOLE_HOME;
  return SIGN_IN_PATHS.some((p) => value.startsWith(p)) ? CONSOLE_HOME : value;
}

/** `path` with the return target as its query, when there is one to keep. */
export function withReturn(path: string, to: string): string {
  return to === CONSOLE_HOME ? path : `${path}?return=${encodeURIComponent(to)}`;
}
