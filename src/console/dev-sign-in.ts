import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { TENANT_PATTERN } from '../auth/claims.js';
import { ROLES, isRole } from '../auth/permissions.js';
import { continuePage, esc, messagePage, SIGN_IN_SCRIPT } from './html.js';
import { requestActor } from './request.js';
import { returnTo, withReturn } from './return-to.js';
import { sessionCookie } from './session-token.js';
import type { ConsoleSessions } from './sessions.js';

/**
 * The development sign-in: pick a tenant, a role and a subject, get a session. It is registered
 * only in embedded mode (ConsoleConfig.devSignIn); a production vault has no such route at all,
 * so POST /console/sign-in there answers 404 like any unknown path.
 */
export interface DevSignInDeps {
  readonly sessions: ConsoleSessions;
  readonly maxAgeSeconds: number;
  /** When an identity provider is configured too, the form offers it as well. */
  readonly oidc: boolean;
}

const form = z.object({
  tenant: z.string().trim().regex(TENANT_PATTERN, 'tenant must be letters, digits, ".", "_" or "-" (at most 63)'),
  role: z.string().refine(isRole, 'role is not one of the vault\'s roles'),
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  sub: z.string().trim().min(1, 'sub is required').max(256).regex(/^[^\u0000-\u001f\u007f]+$/, 'sub must not contain control characters'),
  /** The console page to go on to (see return-to.ts); anything else goes to the home page. */
  return: z.string().optional(),
});

function signInPage(oidc: boolean, to: string, problem?: string): string {
  const roles = ROLES.map((r) => `<option value="${r}"${r === 'supervisor' ? ' selected' : ''}>${r}</option>`).join('');
  const alert = problem ? `<p class="error" role="alert">${esc(problem)}</p>` : '';
  const idp = oidc ? `<p><a class="button" data-return href="${esc(withReturn('/console/oidc/start', to))}">Sign in with the identity provider</a></p>` : '';
  return messagePage({
    title: 'Sign in', embedded: true, head: SIGN_IN_SCRIPT,
    text: 'Development sign-in: choose who to be. Every action is audited under this subject.',
    extra: `${alert}<form class="stack" method="post" action="/console/sign-in">
<label for="tenant">Tenant</label><input id="tenant" name="tenant" required value="acme" autocomplete="off">
<label for="role">Role</label><select id="role" name="role">${roles}</select>
<label for="sub">Subject (user id)</label><input id="sub" name="sub" required value="dev-user" autocomplete="off">
<input type="hidden" name="return" value="${esc(to)}" data-return>
<button type="submit">Sign in</button>
</form>${idp}`,
  });
}

/**
 * A cross-site form cannot sign a browser in under a subject of its choosing: browsers mark such
 * a POST with Sec-Fetch-Site, and only same-origin (or a client that sends none) is accepted.
 */
function sameOrigin(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  return site === undefined || site === 'same-origin' || site === 'none';
}

const returnField = (req: Request): unknown => (req.body as { return?: unknown } | undefined)?.return;

export function devSignInRouter(deps: DevSignInDeps): Router {
  const router = express.Router();
  router.get('/console/sign-in', (req: Request, res: Response) => {
    res.type('html').send(signInPage(deps.oidc, returnTo(req.query.return)));
  });
  router.post('/console/sign-in', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 }), async (req: Request, res: Response) => {
    if (!sameOrigin(req)) {
      res.status(403).type('html').send(signInPage(deps.oidc, returnTo(returnField(req)), 'Sign-in is accepted only from this vault\'s own sign-in page.'));
      return;
    }
    const parsed = form.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).type('html').send(signInPage(deps.oidc, returnTo(returnField(req)), parsed.error.issues[0]?.message ?? 'The form is not valid'));
      return;
    }
    const { tenant, sub, role } = parsed.data;
    const principal = { sub, tenant, roles: isRole(role) ? [role] : [] };
    const token = await deps.sessions.create({ principal, method: 'development' }, requestActor(req, res));
    res.setHeader('Set-Cookie', sessionCookie(req, token, deps.maxAgeSeconds));
    res.type('html').send(continuePage({ title: 'Signed in', text: `Signed in as ${sub}.`, embedded: true, to: returnTo(parsed.data.return), linkText: 'Continue to the console' }));
  });
  return router;
}
