import express, { type Request, type Response, type Router } from 'express';
import type { DeniedEvent } from '../http/secure-router.js';
import { readCookie, serializeCookie } from '../lib/cookies.js';
import { continuePage, esc, messagePage, SIGN_IN_SCRIPT } from './html.js';
import { OidcSignIn, SIGN_IN_WINDOW_SECONDS, SignInFailed } from './oidc.js';
import { requestActor } from './request.js';
import { returnTo, withReturn } from './return-to.js';
import { sessionCookie } from './session-token.js';
import type { ConsoleSessions } from './sessions.js';

/**
 * The OIDC sign-in routes: /console/oidc/start sends the browser to the identity provider,
 * /console/oidc/callback takes it back. The state cookie is SameSite=Lax because it must come
 * back on the provider's cross-site redirect; the session cookie is Strict, so the callback ends
 * with a same-site step (a page that refreshes to /console/) after which the browser sends it.
 */
export interface OidcRouteDeps {
  readonly oidc: OidcSignIn;
  readonly sessions: ConsoleSessions;
  readonly audit: { recordDenied(event: DeniedEvent, source: string): Promise<void> };
  readonly maxAgeSeconds: number;
  readonly publicUrl?: string;
  readonly embedded: boolean;
}

export const CALLBACK_PATH = '/console/oidc/callback';
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Where the provider sends the browser back: PUBLIC_URL (required in production when OIDC is
 * configured), else, for a local trial, the origin this request came to. The provider only
 * redirects to URIs registered for the client, so a forged Host leads nowhere.
 */
export function consoleOrigin(req: Request, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl;
  const host = req.get('host') ?? '';
  return `https://${HOST.test(host) ? host : 'localhost'}`;
}

function stateCookieName(req: Request): string {
  return req.secure ? '__Host-callvault_oidc_state' : 'callvault_oidc_state';
}

function failurePage(embedded: boolean, err: SignInFailed): string {
  return messagePage({ title: 'Sign-in failed', text: err.message, embedded, extra: '<p><a href="/console/sign-in">Try again</a></p>' });
}

export function oidcRouter(deps: OidcRouteDeps): Router {
  const router = express.Router();
  if (!deps.embedded) {
    // Without the development sign-in, the sign-in page offers the identity provider only.
    router.get('/console/sign-in', (req, res) => {
      const start = withReturn('/console/oidc/start', returnTo(req.query.return));
      res.type('html').send(messagePage({
        title: 'Sign in', embedded: false, head: SIGN_IN_SCRIPT, text: 'Sign in with your organisation\'s account.',
        extra: `<p><a class="button" data-return href="${esc(start)}">Sign in</a></p>`,
      }));
    });
  }
  router.get('/console/oidc/start', async (req: Request, res: Response) => {
    const { url, state } = await deps.oidc.start(`${consoleOrigin(req, deps.publicUrl)}${CALLBACK_PATH}`, returnTo(req.query.return));
    res.setHeader('Set-Cookie', serializeCookie(stateCookieName(req), state, { sameSite: 'Lax', secure: true, maxAgeSeconds: SIGN_IN_WINDOW_SECONDS }));
    res.type('html').send(continuePage({
      title: 'Signing in', text: 'Continuing to your identity provider.', embedded: deps.embedded, to: url.href, linkText: 'Continue to the identity provider',
    }));
  });
  router.get(CALLBACK_PATH, async (req: Request, res: Response) => {
    const callback = new URL(`${consoleOrigin(req, deps.publicUrl)}${CALLBACK_PATH}`);
    callback.search = new URL(req.originalUrl, 'https://callback.invalid').search;
    const cookies = [serializeCookie(stateCookieName(req), '', { sameSite: 'Lax', secure: true, maxAgeSeconds: 0 })];
    let result;
    try {
      result = await deps.oidc.finish(callback, readCookie(req.get('cookie'), stateCookieName(req)));
    } catch (err) {
      if (!(err instanceof SignInFailed)) throw err;
      const actor = requestActor(req, res);
      await deps.audit.recordDenied({
        tenant: null, actorSub: 'anonymous', actorRole: null, action: 'auth.denied', outcome: 'denied', ip: actor.ip ?? 'unknown',
        userAgent: actor.userAgent, requestId: actor.requestId ?? 'unknown', details: { reason: `console_${err.reason}`, route: `GET ${CALLBACK_PATH}` },
      }, actor.ip ?? 'unknown');
      res.setHeader('Set-Cookie', cookies);
      res.status(err.reason === 'invalid_claims' ? 403 : 400).type('html').send(failurePage(deps.embedded, err));
      return;
    }
    const { returnTo: to, ...signedIn } = result;
    const token = await deps.sessions.create({ method: 'oidc', ...signedIn }, requestActor(req, res));
    cookies.push(sessionCookie(req, token, deps.maxAgeSeconds));
    res.setHeader('Set-Cookie', cookies);
    res.type('html').send(continuePage({
      title: 'Signed in', embedded: deps.embedded, text: `Signed in as ${result.principal.sub}.`, to, linkText: 'Continue to the console',
    }));
  });
  return router;
}
