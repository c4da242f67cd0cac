import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { CONSOLE_SEAL_LABEL } from '../../src/console/sessions.js';
import { deriveKey } from '../../src/lib/signed-blob.js';
import { seal, unseal } from '../../src/lib/seal.js';
import { auditRows, tinyWav, upload } from '../access/support.js';
import { request } from '../helpers/http.js';
import { startConsole, type ConsoleHarness, type SignedInPage } from '../browser/console-support.js';
import { startTestProvider, type TestProvider } from './oidc-provider.js';

/**
 * The console's OIDC sign-in against a real OpenID Provider (oidc-provider, started here):
 * authorization code with PKCE, state and nonce, tokens kept on the server, logout at the
 * provider, idle and absolute expiry, the MFA requirement for link issuance.
 */
const ACCOUNTS = {
  alice: { tenant: 'acme', roles: ['supervisor'] },
  carol: { tenant: 'acme', roles: ['compliance'] },
  drifter: { roles: ['supervisor'] },
};

interface SessionRow { id: string; sub: string; tenant: string; roles: string[]; method: string; amr: string[]; acr: string | null; tokens: Buffer | null; ended_at: Date | null; end_reason: string | null }

describe('console sign-in with OIDC', () => {
  let provider: TestProvider;
  let harness: ConsoleHarness;
  let secretDir: string;
  let recordingId: string;

  const sessions = (sub: string): Promise<SessionRow[]> => harness.vault.deps.db<SessionRow>('console_sessions').where({ sub }).orderBy('created_at');
  const url = (p: string): string => `${harness.vault.url}${p}`;

  /** From /console/oidc/start through the provider's login form back to the console's start page. */
  async function signIn(page: Page, login: string, opts: { mfa?: boolean } = {}): Promise<void> {
    await page.goto(url('/console/oidc/start'));
    await page.fill('#login', login);
    if (opts.mfa) await page.check('#mfa');
    await Promise.all([page.waitForURL(url('/console/')), page.click('#idp-sign-in')]);
  }

  /** Runs the sign-in up to the provider's redirect back, which is held and returned instead of followed. */
  async function callbackOf(page: Page, login: string): Promise<URL> {
    await page.goto(url('/console/oidc/start'));
    await page.fill('#login', login);
    const held = provider.holdNextCallback();
    await Promise.all([page.locator('#held').waitFor(), page.click('#idp-sign-in')]);
    return held;
  }

  /** Rewrites the pending sign-in of `state` with another PKCE verifier or nonce, sealed as the vault seals it. */
  async function tamperPending(state: string, change: Partial<{ verifier: string; nonce: string }>): Promise<void> {
    const key = deriveKey(harness.vault.deps.linkSigningKey, CONSOLE_SEAL_LABEL);
    const hash = createHash('sha256').update(state).digest();
    const row = await harness.vault.deps.db('console_sign_ins').where({ state_hash: hash }).first<{ sealed: Buffer }>('sealed');
    assert.ok(row, 'a pending sign-in for this state');
    const pending = { ...JSON.parse(unseal(key, row.sealed, hash.toString('hex')).toString('utf8')) as object, ...change };
    await harness.vault.deps.db('console_sign_ins').where({ state_hash: hash }).update({ sealed: seal(key, Buffer.from(JSON.stringify(pending)), hash.toString('hex')) });
  }

  async function fresh(): Promise<SignedInPage> {
    return harness.openAnonymous();
  }

  async function pageCall(page: Page, method: string, p: string, body?: unknown): Promise<{ status: number; code: string | null }> {
    return page.evaluate(async ({ method, p, body }) => {
      const doc = (globalThis as unknown as { document: { querySelector(s: string): { getAttribute(n: string): string | null } | null } }).document;
      const res = await fetch(p, {
        method, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
        headers: { 'content-type': 'application/json', 'x-csrf-token': doc.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '' },
      });
      const json = await res.json().catch(() => ({})) as { code?: string };
      return { status: res.status, code: json.code ?? null };
    }, { method, p, body });
  }

  before(async () => {
    provider = await startTestProvider(ACCOUNTS);
    secretDir = await mkdtemp(path.join(os.tmpdir(), 'callvault-oidc-'));
    const secretFile = path.join(secretDir, 'client-secret');
    await writeFile(secretFile, `${provider.clientSecret}\n`, { mode: 0o600 });
    harness = await startConsole({
      env: {
        CONSOLE_OIDC_ISSUER: provider.issuer, CONSOLE_OIDC_CLIENT_ID: provider.clientId, CONSOLE_OIDC_CLIENT_SECRET_FILE: secretFile,
        CONSOLE_OIDC_SCOPES: 'openid callvault', CONSOLE_LINK_REQUIRES_MFA: 'true',
      },
    });
    provider.attach(harness.vault.url);
    recordingId = (await upload(harness.vault, await harness.vault.token('pbx'), 'oidc-console-1', tinyWav(3))).id;
  });
  after(async () => {
    await harness?.close();
    await provider?.close();
    await rm(secretDir, { recursive: true, force: true });
  });

  test('PKCE (S256), state and nonce: the browser signs in and holds only the session cookie', async () => {
    const signedIn = await fresh();
    const authorize: URL[] = [];
    signedIn.page.on('request', (r) => { if (r.url().startsWith(`${provider.issuer}/auth`)) authorize.push(new URL(r.url())); });
    try {
      await signIn(signedIn.page, 'alice');
      const params = authorize[0]?.searchParams;
      assert.ok(params, 'the browser went to the provider\'s authorization endpoint');
      assert.equal(params.get('code_challenge_method'), 'S256');
      assert.match(params.get('code_challenge') ?? '', /^[\w-]{43}$/);
      assert.match(params.get('state') ?? '', /^[\w-]{20,}$/);
      assert.match(params.get('nonce') ?? '', /^[\w-]{20,}$/);
      assert.equal(params.get('response_type'), 'code');
      assert.match(await signedIn.page.locator('main#app').innerText(), /alice[\s\S]*acme[\s\S]*supervisor/);
      assert.equal(await signedIn.page.locator('.dev-banner').count(), 1, 'still embedded mode: bannered');

      // Cookies are not separated by port: the provider's own (on 127.0.0.1 too) are left out.
      const cookies = (await signedIn.context.cookies(harness.vault.url)).filter((c) => c.name.includes('callvault'));
      assert.deepEqual(cookies.map((c) => c.name), ['__Host-callvault_console'], 'only the session cookie stays (the state cookie is cleared)');
      assert.equal(cookies[0]?.sameSite, 'Strict');
      assert.equal(cookies[0]?.httpOnly, true);
      const [row] = await sessions('alice');
      assert.ok(row);
      assert.equal(row.method, 'oidc');
      assert.deepEqual(row.amr, ['pwd']);
      assert.ok(row.tokens && row.tokens.length > 100, 'the provider\'s tokens are kept with the session');
      assert.ok(!row.tokens.toString('latin1').includes('eyJ'), 'sealed, not stored as plain JWTs');
      assert.ok(!cookies[0]?.value.includes('eyJ'), 'no token in the cookie');
      assert.equal(await harness.vault.deps.db('console_sign_ins').count<{ count: string }[]>('* as count').then((r) => Number(r[0]?.count)), 0, 'the pending sign-in was used up');

      assert.equal((await pageCall(signedIn.page, 'GET', '/v1/recordings')).status, 200);
      const audit = await auditRows(harness.vault, { action: 'console.signed_in' });
      assert.ok(audit.some((r) => r.actor_sub === 'alice' && r.details.method === 'oidc' && JSON.stringify(r.details.amr) === '["pwd"]'));
      assert.deepEqual(signedIn.problems.all(), []);
    } finally {
      await signedIn.close();
    }
  });

  test('a sign-in started from a console page returns to that page, fragment included', async () => {
    const signedIn = await fresh();
    try {
      const deepLink = url(`/console/recordings/${recordingId}?from=search#t=2`);
      await signedIn.page.goto(deepLink);
      await signedIn.page.waitForURL(/\/console\/sign-in\?return=/);
      await signedIn.page.click('a[data-return]');
      await signedIn.page.fill('#login', 'alice');
      await Promise.all([signedIn.page.waitForURL(deepLink), signedIn.page.click('#idp-sign-in')]);
      assert.equal(new URL(signedIn.page.url()).hash, '#t=2');
      assert.deepEqual(signedIn.problems.all(), []);
    } finally {
      await signedIn.close();
    }
  });

  test('the provider refuses an authorization request without PKCE', async () => {
    const auth = new URL(`${provider.issuer}/auth`);
    for (const [k, v] of Object.entries({ client_id: provider.clientId, response_type: 'code', scope: 'openid', redirect_uri: url('/console/oidc/callback'), state: 'abcdefghijklmnopqrstuvwxyz', nonce: 'abcdefghijklmnopqrstuvwxyz' })) {
      auth.searchParams.set(k, v);
    }
    const res = await fetch(auth, { redirect: 'manual' });
    const location = new URL(res.headers.get('location') ?? '', auth);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
  });

  test('a callback in a browser that did not start the sign-in is refused (state); a used callback does not work twice', async () => {
    const starter = await fresh();
    const other = await fresh();
    try {
      const callback = await callbackOf(starter.page, 'alice');
      const before = (await sessions('alice')).length;
      const stranger = await other.page.goto(callback.href);
      assert.equal(stranger?.status(), 400);
      assert.match(await other.page.locator('main').innerText(), /does not belong/);
      const first = await starter.page.goto(callback.href);
      assert.equal(first?.status(), 200);
      await starter.page.waitForURL(url('/console/'));
      assert.equal((await sessions('alice')).length, before + 1);
      const again = await starter.page.goto(callback.href);
      assert.equal(again?.status(), 400, 'the same authorization response a second time');
      const denied = await auditRows(harness.vault, { action: 'auth.denied' });
      assert.ok(denied.some((r) => r.details.reason === 'console_state_mismatch'));
    } finally {
      await starter.close();
      await other.close();
    }
  });

  for (const [what, change, reason] of [
    ['PKCE: the code is not redeemed with another verifier', { verifier: 'x'.repeat(43) }, /could not be completed/],
    ['nonce: an ID token issued for another nonce is refused', { nonce: 'another-nonce-value-0123456789' }, /could not be completed[\s\S]*nonce/],
  ] as const) {
    test(what, async () => {
      const signedIn = await fresh();
      try {
        const callback = await callbackOf(signedIn.page, 'carol');
        await tamperPending(callback.searchParams.get('state') ?? '', change);
        const before = (await sessions('carol')).length;
        const res = await signedIn.page.goto(callback.href);
        assert.equal(res?.status(), 400);
        assert.match(await signedIn.page.locator('main').innerText(), reason);
        assert.equal((await sessions('carol')).length, before, 'no session');
      } finally {
        await signedIn.close();
      }
    });
  }

  test('an identity without a tenant claim gets no session (the API\'s claim rules)', async () => {
    const signedIn = await fresh();
    try {
      await signedIn.page.goto(url('/console/oidc/start'));
      await signedIn.page.fill('#login', 'drifter');
      const [res] = await Promise.all([signedIn.page.waitForResponse((r) => r.url().startsWith(url('/console/oidc/callback'))), signedIn.page.click('#idp-sign-in')]);
      assert.equal(res.status(), 403);
      assert.match(await signedIn.page.locator('main').innerText(), /tenant claim/);
      assert.equal((await sessions('drifter')).length, 0);
    } finally {
      await signedIn.close();
    }
  });

  test('link issuance from the console needs a sign-in with a second factor (403 mfa_required)', async () => {
    const single = await fresh();
    const strong = await fresh();
    try {
      await signIn(single.page, 'alice');
      const refused = await pageCall(single.page, 'POST', `/v1/recordings/${recordingId}/links`, { reason: 'quality review' });
      assert.deepEqual(refused, { status: 403, code: 'mfa_required' });
      await signIn(strong.page, 'alice', { mfa: true });
      const issued = await pageCall(strong.page, 'POST', `/v1/recordings/${recordingId}/links`, { reason: 'quality review' });
      assert.equal(issued.status, 201);
      const bearer = await request(harness.vault, {
        method: 'POST', path: `/v1/recordings/${recordingId}/links`, token: await harness.vault.token('supervisor'),
        headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'api caller' }),
      });
      assert.equal(bearer.status, 201, 'bearer tokens are not console sessions');
      const denied = await auditRows(harness.vault, { action: 'auth.denied' });
      assert.ok(denied.some((r) => r.actor_sub === 'alice' && r.details.reason === 'mfa_required'));
    } finally {
      await single.close();
      await strong.close();
    }
  });

  test('a download link from the console needs a sign-in with a second factor too (403 mfa_required)', async () => {
    const allow = await request(harness.vault, {
      method: 'PUT', path: '/v1/download-settings', token: await harness.vault.token('admin'),
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roles: ['supervisor'] }),
    });
    assert.equal(allow.status, 200, allow.body.toString());
    const single = await fresh();
    const strong = await fresh();
    try {
      await signIn(single.page, 'alice');
      const refused = await pageCall(single.page, 'POST', `/v1/recordings/${recordingId}/downloads`, { reason: 'evidence for case 9' });
      assert.deepEqual(refused, { status: 403, code: 'mfa_required' });
      await signIn(strong.page, 'alice', { mfa: true });
      const issued = await pageCall(strong.page, 'POST', `/v1/recordings/${recordingId}/downloads`, { reason: 'evidence for case 9' });
      assert.equal(issued.status, 201);
    } finally {
      await single.close();
      await strong.close();
    }
  });

  test('sign-out ends the session here and at the provider (RP-initiated logout)', async () => {
    const signedIn = await fresh();
    try {
      await signIn(signedIn.page, 'carol');
      const [row] = (await sessions('carol')).filter((r) => r.ended_at === null);
      assert.ok(row);
      const cookie = (await signedIn.context.cookies(harness.vault.url)).find((c) => c.name === '__Host-callvault_console');
      await signedIn.page.click('form.sign-out button');
      await signedIn.page.waitForURL((u) => u.href.startsWith(provider.issuer));
      await Promise.all([signedIn.page.waitForURL(url('/console/signed-out')), signedIn.page.click('button[value="yes"]')]);
      const ended = (await sessions('carol')).find((r) => r.id === row.id);
      assert.equal(ended?.end_reason, 'signed_out');
      assert.equal(ended?.tokens, null, 'the provider tokens are dropped with the session');
      const api = await request(harness.vault, { path: '/v1/recordings', headers: { cookie: `${cookie?.name}=${cookie?.value}` } });
      assert.equal(api.status, 401);
      assert.equal(api.json().code, 'session_expired');
      assert.ok((await auditRows(harness.vault, { action: 'console.signed_out' })).some((r) => r.actor_sub === 'carol'));
      // The provider's own session ended too: starting again asks for the login.
      await signedIn.page.goto(url('/console/oidc/start'));
      await signedIn.page.locator('#login').waitFor();
    } finally {
      await signedIn.close();
    }
  });

  for (const [limit, column] of [['idle', 'last_seen_at'], ['absolute', 'expires_at']] as const) {
    test(`a session past its ${limit} limit (on the database clock) is ended, audited and refused`, async () => {
      const signedIn = await fresh();
      try {
        await signIn(signedIn.page, 'alice');
        const live = (await sessions('alice')).filter((r) => r.ended_at === null).at(-1);
        assert.ok(live);
        const shift = limit === 'idle' ? "now() - interval '15 minutes 1 second'" : "now() - interval '1 second'";
        await harness.vault.deps.db('console_sessions').where({ id: live.id }).update({ [column]: harness.vault.deps.db.raw(shift) });
        assert.equal((await pageCall(signedIn.page, 'GET', '/v1/recordings')).status, 401);
        await signedIn.page.goto(url('/console/'));
        assert.equal(new URL(signedIn.page.url()).pathname, '/console/sign-in');
        const ended = (await sessions('alice')).find((r) => r.id === live.id);
        assert.equal(ended?.end_reason, limit);
        const expired = await auditRows(harness.vault, { action: 'console.session_expired' });
        assert.equal(expired.filter((r) => r.details.sessionId === live.id).length, 1, 'audited once');
        assert.equal(expired.find((r) => r.details.sessionId === live.id)?.details.reason, limit);
      } finally {
        await signedIn.close();
      }
    });
  }
});
