import { ForbiddenError } from '../errors.js';
import type { Gate } from './gates.js';

/**
 * CONSOLE_LINK_REQUIRES_MFA: a request authenticated by a console session may issue a link only
 * when its sign-in was multi-factor (the identity provider's amr or acr; see
 * src/console/cookie-auth.ts). Bearer-token callers are not console sessions and pass.
 */
export function consoleMfaGate(required: boolean): Gate | undefined {
  if (!required) return undefined;
  return (_req, ctx) => {
    if (ctx.consoleSession && !ctx.consoleSession.mfa) {
      throw new ForbiddenError('Issuing links from the console needs a session signed in with multi-factor authentication', 'mfa_required');
    }
  };
}
