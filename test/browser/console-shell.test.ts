import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { auditRows, tinyWav, upload } from '../access/support.js';
import { axeCheck, startConsole, type ConsoleHarness, type SignedInPage } from './console-support.js';

/**
 * The console shell in Chromium: development sign-in, a page under the strict CSP, and the /v1
 * API called from the page with the session cookie, refused without the CSRF token.
 */
interface CallResult { status: number; code: string | null }

/** Where the page is, as the console's scripts read it: path, query and fragment. */
function whereIs(signedIn: SignedInPage): Promise<string> {
  return signedIn.page.evaluate(() => {
    const loc = (globalThis as unknown as { location: { pathname: string; search: string; hash: string } }).location;
    return loc.pathname + loc.search + loc.hash;
  });
}

/** The page's return target once it has left for the sign-in page by itself. */
async function returnAfterSignIn(signedIn: SignedInPage, base: string): Promise<string | null> {
  await signedIn.page.waitForURL((u) => u.href.startsWith(`${base}/console/sign-in`), { timeout: 15_000 });
  return new URL(signedIn.page.url()).searchParams.get('return');
}

/** fetch() from inside the page, as a page script would: same origin, the cookie goes along. */
function pageFetch(signedIn: SignedInPage, method: string, path: string, opts: { body?: unknown; csrf: boolean }): Promise<CallResult> {
  return signedIn.page.evaluate(async ({ method, path, body, csrf }) => {
    const doc = (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(n: string): string | null } | null } }).document;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (csrf) headers['x-csrf-token'] = doc.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
    const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
    const json = await res.json().catch(() => ({})) as { code?: string };
    return { status: res.status, code: json.code ?? null };
  }, { method, path, body: opts.body, csrf: opts.csrf });
}

describe('console shell', () => {
  let harness: ConsoleHarness;
  let recordingId: string;

  before(async () => {
    harness = await startConsole();
    recordingId = (await upload(harness.vault, await harness.vault.token('pbx'), 'console-shell-1', tinyWav(1))).id;
  });
  after(async () => { await harness?.close(); });

  test('development sign-in opens the start page under the strict CSP, with no errors, dialogs or violations', async () => {
    const signedIn = await harness.openConsole({ role: 'supervisor', sub: 'sup-7' });
    try {
      const { page } = signedIn;
      const res = await page.reload();
      const csp = res?.headers()['content-security-policy'] ?? '';
      for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) {
        assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
      }
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(res?.headers()['cache-control'], 'no-store');
      await page.getByText('Signed in as').waitFor();
      assert.match(await page.locator('main#app').innerText(), /sup-7[\s\S]*acme[\s\S]*supervisor/);
      assert.equal(await page.locator('.dev-banner').count(), 1, 'embedded mode is bannered');
      const cookies = await signedIn.context.cookies();
      const session = cookies.find((c) => c.name === '__Host-callvault_console');
      assert.ok(session, `session cookie set: ${cookies.map((c) => c.name).join(', ')}`);
      assert.equal(session.httpOnly, true);
      assert.equal(session.secure, true);
      assert.equal(session.sameSite, 'Strict');
      assert.equal(session.path, '/');
      assert.deepEqual(await axeCheck(page), []);
      assert.deepEqual(signedIn.problems.all(), []);
      const signIns = await auditRows(harness.vault, { action: 'console.signed_in' });
      assert.ok(signIns.some((r) => r.actor_sub === 'sup-7' && r.tenant === 'acme' && r.details.method === 'development'));
    } finally {
      await signedIn.close();
    }
  });

  test('the page calls the API with its session; a state-changing call needs the CSRF token', async () => {
    const signedIn = await harness.openConsole({ role: 'supervisor', sub: 'sup-8' });
    try {
      const list = await pageFetch(signedIn, 'GET', '/v1/recordings', { csrf: false });
      assert.equal(list.status, 200);
      const body = { reason: 'console review' };
      const refused = await pageFetch(signedIn, 'POST', `/v1/recordings/${recordingId}/links`, { body, csrf: false });
      assert.deepEqual(refused, { status: 403, code: 'csrf_failed' });
      const issued = await pageFetch(signedIn, 'POST', `/v1/recordings/${recordingId}/links`, { body, csrf: true });
      assert.equal(issued.status, 201);
      const links = await auditRows(harness.vault, { action: 'link.issued', recording_id: recordingId });
      assert.equal(links.length, 1, 'only the call with the token issued a link');
      assert.equal(links[0]?.actor_sub, 'sup-8');
      assert.equal(links[0]?.actor_role, 'supervisor');
      const denied = await auditRows(harness.vault, { action: 'auth.denied' });
      assert.ok(denied.some((r) => r.actor_sub === 'sup-8' && r.details.reason === 'csrf_failed'));
      assert.deepEqual(signedIn.problems.all().filter((p) => !p.includes('403')), []);
    } finally {
      await signedIn.close();
    }
  });

  test('a page whose session ended elsewhere leaves for the sign-in at its next API call, to come back to the same place', async () => {
    const signedIn = await harness.openConsole({ role: 'supervisor', sub: 'ended-1' }, `/console/recordings/${recordingId}?from=test#t=1`);
    try {
      const here = await whereIs(signedIn);
      assert.equal(here, `/console/recordings/${recordingId}?from=test#t=1`);
      await harness.vault.deps.db('console_sessions').where({ sub: 'ended-1' }).update({ ended_at: harness.vault.deps.db.fn.now(), end_reason: 'signed_out' });
      // The page's own API module, as its scripts call it; the navigation it starts ends this evaluation.
      const call = signedIn.page.evaluate(async (moduleUrl) => {
        const lib = await import(moduleUrl) as { api(method: string, path: string): Promise<unknown> };
        await lib.api('GET', '/v1/recordings').catch(() => undefined);
      }, '/console/assets/lib/api.js').catch(() => undefined);
      assert.equal(await returnAfterSignIn(signedIn, harness.vault.url), here);
      await call;
    } finally {
      await signedIn.close();
    }
  });

  test('without a session a page redirects to sign-in and the API answers 401', async () => {
    const anonymous = await harness.openAnonymous();
    try {
      await anonymous.page.goto(`${harness.vault.url}/console/`);
      assert.equal(new URL(anonymous.page.url()).pathname, '/console/sign-in');
      assert.deepEqual(await axeCheck(anonymous.page), [], 'the sign-in page');
      await anonymous.page.goto(`${harness.vault.url}/console/signed-out`);
      assert.deepEqual(await axeCheck(anonymous.page), [], 'the signed-out page');
      const res = await pageFetch(anonymous, 'GET', '/v1/recordings', { csrf: false });
      assert.deepEqual(res, { status: 401, code: 'missing_token' });
    } finally {
      await anonymous.close();
    }
  });
});

describe('console automatic logoff', () => {
  let harness: ConsoleHarness;

  before(async () => { harness = await startConsole({ env: { CONSOLE_IDLE_TIMEOUT: 'PT2S' } }); });
  after(async () => { await harness?.close(); });

  test('an idle page leaves for the sign-in by itself, and the session it had is over', async () => {
    const signedIn = await harness.openConsole({ role: 'compliance', sub: 'idle-1' }, '/console/audit#idle');
    try {
      const here = await whereIs(signedIn);
      assert.ok(here.startsWith('/console/audit'), here);
      assert.equal(await returnAfterSignIn(signedIn, harness.vault.url), here, 'the sign-in returns to the page left');
      await signedIn.page.goto(`${harness.vault.url}/console/`);
      assert.equal(new URL(signedIn.page.url()).pathname, '/console/sign-in');
      const expired = await auditRows(harness.vault, { action: 'console.session_expired' });
      assert.ok(expired.some((r) => r.actor_sub === 'idle-1' && r.details.reason === 'idle'));
      assert.deepEqual(signedIn.problems.all(), []);
    } finally {
      await signedIn.close();
    }
  });
});
