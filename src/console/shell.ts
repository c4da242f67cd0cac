import { can } from '../auth/permissions.js';
import { DEV_BANNER, esc, htmlDocument } from './html.js';
import { CONSOLE_PAGES, HOME_PAGE, type ConsolePage } from './pages.js';
import type { LiveSession } from './sessions.js';

/**
 * The HTML shell of a console page: the session's CSRF token and principal as <meta> tags for
 * the page's module (src/console/assets/lib/api.js reads them), the navigation filtered by the
 * session's permissions, a sign-out form, `<main id="app">` for the page to fill, and exactly one
 * external module script. No inline script or style: the CSP forbids both.
 */
export interface ShellInput {
  readonly page: Pick<ConsolePage, 'title' | 'script'> & { readonly path: string };
  readonly session: LiveSession;
  readonly embedded: boolean;
  readonly idleTimeoutSeconds: number;
  /** The path the browser asked for, to mark the current navigation entry. */
  readonly currentPath: string;
}

const SCRIPT = /^[a-z0-9][a-z0-9/_-]*\.js$/;

export function navFor(session: LiveSession): ConsolePage[] {
  return CONSOLE_PAGES.filter((p) => p.nav !== undefined && can(session.principal.roles, p.permission));
}

function navHtml(session: LiveSession, currentPath: string): string {
  const entries = [{ href: '/console/', label: 'Home' }, ...navFor(session).map((p) => ({ href: `/console${p.path}`, label: p.nav ?? p.title }))];
  const items = entries.map(({ href, label }) => {
    const current = href === currentPath || (href === '/console/' && currentPath === '/console') ? ' aria-current="page"' : '';
    return `<li><a href="${esc(href)}"${current}>${esc(label)}</a></li>`;
  });
  return `<nav aria-label="Console"><ul>${items.join('')}</ul></nav>`;
}

export function renderShell(input: ShellInput): string {
  const { page, session } = input;
  if (!SCRIPT.test(page.script) || page.script.includes('..')) throw new Error(`console page script "${page.script}" is not a plain asset path`);
  const principal = JSON.stringify({ sub: session.principal.sub, tenant: session.principal.tenant, roles: session.principal.roles });
  const head = `<meta name="csrf-token" content="${esc(session.csrfToken)}">
<meta name="console-principal" content="${esc(principal)}">
<meta name="console-idle-timeout" content="${input.idleTimeoutSeconds}">
<script type="module" src="/console/assets/${esc(page.script)}"></script>
`;
  const body = `<a class="skip" href="#app">Skip to content</a>
<header class="top">
${input.embedded ? DEV_BANNER : ''}<div class="bar">
<p class="brand">callvault console</p>
${navHtml(session, input.currentPath)}
<form class="sign-out" method="post" action="/console/sign-out">
<input type="hidden" name="csrf" value="${esc(session.csrfToken)}">
<span class="who">${esc(session.principal.sub)} · ${esc(session.principal.tenant)}</span>
<button type="submit">Sign out</button>
</form>
</div>
</header>
<main id="app" tabindex="-1" aria-labelledby="page-title">
<h1 id="page-title">${esc(page.title)}</h1>
</main>`;
  return htmlDocument({ title: page.title, head, body });
}

export { HOME_PAGE };
