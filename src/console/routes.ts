import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { can } from '../auth/permissions.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { sessionOf } from './cookie-auth.js';
import { devSignInRouter } from './dev-sign-in.js';
import { continuePage, messagePage } from './html.js';
import type { OidcSignIn } from './oidc.js';
import { consoleOrigin, oidcRouter, type OidcRouteDeps } from './oidc-routes.js';
import { CONSOLE_PAGES, HOME_PAGE, type ConsolePage } from './pages.js';
import { CONSOLE_CSP, requestActor } from './request.js';
import { clearedSessionCookie, sameSecret } from './session-token.js';
import type { ConsoleSessions, LiveSession } from './sessions.js';
import { renderShell } from './shell.js';
import { returnTo, withReturn } from './return-to.js';

/**
 * Everything under /console: the page shells, their assets, sign-in and sign-out. Every response
 * here is `no-store` and carries the console's strict CSP. The pages call the ordinary /v1 API,
 * authenticated by the session cookie (src/console/cookie-auth.ts). Routes carry their full
 * /console paths (the router is not mounted under a prefix), so route listings name them as served.
 */
export interface ConsoleRouteDeps {
  readonly sessions: ConsoleSessions;
  /** Null when no identity provider is configured (CONSOLE_OIDC_ISSUER unset). */
  readonly oidc: OidcSignIn | null;
  readonly audit: OidcRouteDeps['audit'];
  readonly config: {
    readonly console: { readonly devSignIn: boolean; readonly idleTimeoutMs: number; readonly maxAgeMs: number };
    readonly http: { readonly publicUrl?: string };
  };
}

/** Assets sit next to this module: src/console/assets when run from source, dist/src/console/assets when built. */
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

const ASSET_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
};

function consoleHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('Cache-Control', 'no-store');
  next();
}

function assets(): Router {
  const router = express.Router();
  router.use((req, res, next) => {
    const ext = /\.[a-z]+$/.exec(req.path)?.[0] ?? '';
    const type = ASSET_TYPES[ext];
    if (!type) { next('router'); return; }
    res.setHeader('Content-Type', type);
    next();
  });
  router.use(express.static(ASSETS_DIR, {
    index: false, redirect: false, etag: false, lastModified: false, dotfiles: 'ignore', cacheControl: false,
    setHeaders: (res, file) => { res.setHeader('Content-Type', ASSET_TYPES[/\.[a-z]+$/.exec(file)?.[0] ?? ''] ?? 'application/octet-stream'); },
  }));
  return router;
}

export function consoleRouter(deps: ConsoleRouteDeps): Router {
  const router = express.Router({ strict: false });
  const cfg = deps.config.console;
  const embedded = cfg.devSignIn;
  router.use('/console', consoleHeaders);
  router.use('/console/assets', assets());
  if (cfg.devSignIn) router.use(devSignInRouter({ sessions: deps.sessions, maxAgeSeconds: cfg.maxAgeMs / 1000, oidc: deps.oidc !== null }));
  if (deps.oidc) {
    router.use(oidcRouter({
      oidc: deps.oidc, sessions: deps.sessions, audit: deps.audit, maxAgeSeconds: cfg.maxAgeMs / 1000, publicUrl: deps.config.http.publicUrl, embedded,
    }));
  }
  router.get('/console/signed-out', (_req, res) => {
    res.type('html').send(messagePage({ title: 'Signed out', text: 'You have signed out of the console.', embedded, extra: '<p><a href="/console/sign-in">Sign in again</a></p>' }));
  });
  router.post('/console/sign-out', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 5 }), async (req, res) => {
    const session = await sessionOf(deps.sessions, req, requestActor(req, res));
    if (session && !sameSecret(typeof req.body?.csrf === 'string' ? req.body.csrf : undefined, session.csrfToken)) {
      res.status(403).type('html').send(messagePage({ title: 'Not signed out', text: 'The sign-out form was not valid; sign out from a console page.', embedded }));
      return;
    }
    if (session) await deps.sessions.signOut(session, requestActor(req, res));
    res.setHeader('Set-Cookie', clearedSessionCookie(req));
    const origin = consoleOrigin(req, deps.config.http.publicUrl);
    const atProvider = session?.method === 'oidc' && deps.oidc ? await deps.oidc.endSessionUrl(`${origin}/console/signed-out`) : null;
    if (!atProvider) {
      res.redirect(303, '/console/signed-out');
      return;
    }
    // Not a redirect: form-action 'self' would stop a form's redirect to another origin. A refresh is a plain navigation.
    res.type('html').send(continuePage({
      title: 'Signing out', embedded, text: 'You are signed out of the console. Signing out at your identity provider…',
      to: atProvider.href, linkText: 'Continue to the identity provider',
    }));
  });
  // Listening is activity too: media requests carry no session, so the player reports it here
  // while audio plays, and automatic logoff counts only time nobody used the console.
  router.post('/console/activity', async (req, res) => {
    const session = await sessionOf(deps.sessions, req, requestActor(req, res));
    if (!session) throw new UnauthorizedError(undefined, 'session_expired');
    if (!sameSecret(req.get('x-csrf-token'), session.csrfToken)) throw new ForbiddenError(undefined, 'csrf_failed');
    res.status(204).end();
  });
  for (const page of [{ ...HOME_PAGE, permission: undefined }, ...CONSOLE_PAGES]) {
    router.get(`/console${page.path}`, pageHandler(deps, page));
  }
  return router;
}

type AnyPage = Pick<ConsolePage, 'path' | 'title' | 'script'> & { readonly permission: ConsolePage['permission'] | undefined };

function pageHandler(deps: ConsoleRouteDeps, page: AnyPage) {
  const cfg = deps.config.console;
  return async (req: Request, res: Response): Promise<void> => {
    const session: LiveSession | null = await sessionOf(deps.sessions, req, requestActor(req, res));
    if (!session) {
      res.setHeader('Set-Cookie', clearedSessionCookie(req));
      res.redirect(303, withReturn('/console/sign-in', returnTo(req.originalUrl)));
      return;
    }
    if (page.permission !== undefined && !can(session.principal.roles, page.permission)) {
      res.status(403).type('html').send(messagePage({
        title: 'Not permitted', embedded: cfg.devSignIn,
        text: `Your roles (${session.principal.roles.join(', ') || 'none'}) do not include this page.`,
        extra: '<p><a href="/console/">Back to the console</a></p>',
      }));
      return;
    }
    res.type('html').send(renderShell({
      page, session, embedded: cfg.devSignIn, idleTimeoutSeconds: Math.round(cfg.idleTimeoutMs / 1000), currentPath: req.originalUrl.split('?')[0] ?? '',
    }));
  };
}
