import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CONSOLE_CSP } from '../../src/console/request.js';
import { auditRows } from '../access/support.js';
import { request, type HttpResponse } from '../helpers/http.js';
import { startVault, type TestVault } from '../helpers/vault.js';

/**
 * The console over plain HTTPS requests: assets and their headers, the development sign-in and
 * its refusals, the session cookie against the API next to bearer tokens, sign-out, and a
 * production-mode vault, which has no development sign-in at all.
 */
const SESSION = '__Host-callvault_console';

function cookieOf(res: HttpResponse, name = SESSION): string {
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const line = set.find((c) => c.startsWith(`${name}=`));
  assert.ok(line, `Set-Cookie ${name} in ${set.join(' | ')}`);
  return line.split(';')[0] ?? '';
}

function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  return { body: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
}

async function devSignIn(vault: TestVault, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpResponse> {
  const f = form(fields);
  return request(vault, { method: 'POST', path: '/console/sign-in', body: f.body, headers: { ...f.headers, ...headers } });
}

async function csrfOf(vault: TestVault, cookie: string): Promise<string> {
  const page = await request(vault, { path: '/console/', headers: { cookie } });
  assert.equal(page.status, 200);
  const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body.toString())?.[1];
  assert.ok(token);
  return token;
}

describe('console over HTTP', () => {
  let vault: TestVault;

  before(async () => { vault = await startVault(); });
  after(async () => { await vault?.close(); });

  test('assets are served no-store with their JavaScript/CSS types under the console CSP; nothing else is', async () => {
    for (const [p, type] of [['/console/assets/lib/api.js', /^text\/javascript/], ['/console/assets/lib/dom.js', /^text\/javascript/], ['/console/assets/console.css', /^text\/css/]] as const) {
      const res = await request(vault, { path: p });
      assert.equal(res.status, 200, p);
      assert.match(String(res.headers['content-type']), type);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
    for (const p of ['/console/assets/missing.js', '/console/assets/lib/', '/console/assets/%2e%2e/routes.ts', '/console/assets/../routes.ts', '/console/assets/lib/dom.js.map']) {
      assert.equal((await request(vault, { path: p })).status, 404, p);
    }
  });

  test('the shell has no inline script, style or event handler, and puts the principal in as text', async () => {
    const res = await devSignIn(vault, { tenant: 'acme', role: 'supervisor', sub: '"><script>alert(1)</script>' });
    assert.equal(res.status, 200);
    const page = await request(vault, { path: '/console/', headers: { cookie: cookieOf(res) } });
    const html = page.body.toString();
    assert.equal(page.status, 200);
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc="\/console\/assets\/)/);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
    assert.ok(!html.includes('<script>alert(1)'), 'the subject is escaped');
    assert.match(html, /&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /<main id="app"/);
  });

  test('a page asked for without a session is where the sign-in returns to; other targets go to the console home', async () => {
    const asked = await request(vault, { path: '/console/recordings?tag=vip' });
    assert.equal(asked.status, 303);
    assert.equal(asked.headers.location, '/console/sign-in?return=%2Fconsole%2Frecordings%3Ftag%3Dvip');
    const signInPage = (await request(vault, { path: String(asked.headers.location) })).body.toString();
    assert.match(signInPage, /<input type="hidden" name="return" value="\/console\/recordings\?tag=vip" data-return>/);
    assert.match(signInPage, /<script type="module" src="\/console\/assets\/sign-in.js"><\/script>/);
    const back = await devSignIn(vault, { tenant: 'acme', role: 'supervisor', sub: 'deep-link', return: '/console/recordings?tag=vip#t=90' });
    assert.equal(back.status, 200);
    assert.match(back.body.toString(), /<meta http-equiv="refresh" content="0;url=\/console\/recordings\?tag=vip#t=90">/);
    for (const elsewhere of ['https://evil.example/', '//evil.example', '/console/../v1/recordings', '/v1/recordings']) {
      const res = await devSignIn(vault, { tenant: 'acme', role: 'supervisor', sub: 'deep-link', return: elsewhere });
      assert.match(res.body.toString(), /<meta http-equiv="refresh" content="0;url=\/console\/">/, elsewhere);
    }
  });

  test('the development sign-in refuses a cross-site form and bad fields, creating no session', async () => {
    const cross = await devSignIn(vault, { tenant: 'acme', role: 'admin', sub: 'forced' }, { 'sec-fetch-site': 'cross-site' });
    assert.equal(cross.status, 403);
    assert.equal(cross.headers['set-cookie'], undefined);
    for (const fields of [{ tenant: '../x', role: 'admin', sub: 'a' }, { tenant: 'acme', role: 'root', sub: 'a' }, { tenant: 'acme', role: 'admin', sub: '' }]) {
      const bad = await devSignIn(vault, fields);
      assert.equal(bad.status, 400, JSON.stringify(fields));
      assert.equal(bad.headers['set-cookie'], undefined);
    }
    assert.equal((await vault.deps.db('console_sessions').where({ sub: 'forced' })).length, 0);
  });

  test('a bearer token wins over a session cookie; a cookie with the wrong secret is refused and ends nothing', async () => {
    const cookie = cookieOf(await devSignIn(vault, { tenant: 'acme', role: 'compliance', sub: 'comp-9' }));
    const asBearer = await request(vault, { path: '/v1/audit-events', headers: { cookie }, token: await vault.token('supervisor') });
    assert.equal(asBearer.status, 403, 'the supervisor token decides, not the compliance session');
    assert.equal((await request(vault, { path: '/v1/audit-events', headers: { cookie } })).status, 200);
    const [id, secret] = cookie.slice(SESSION.length + 1).split('.');
    const [row] = await vault.deps.db('console_sessions').where({ id });
    assert.deepEqual(row?.verifier, createHash('sha256').update(secret ?? '').digest(), 'the row holds SHA-256 of the secret');
    assert.ok(!JSON.stringify(row).includes(secret ?? '-'), 'and never the secret itself');
    const forged = cookie.replace(/\.[\w-]{43}$/, `.${'A'.repeat(43)}`);
    const refused = await request(vault, { path: '/v1/recordings', headers: { cookie: forged } });
    assert.equal(refused.status, 401);
    assert.equal(refused.json().code, 'session_expired');
    assert.equal((await request(vault, { path: '/v1/recordings', headers: { cookie } })).status, 200, 'the real session lives on');
  });

  test('sign-out needs the CSRF token, ends the session and clears the cookie', async () => {
    const cookie = cookieOf(await devSignIn(vault, { tenant: 'acme', role: 'agent', sub: 'agent-4' }));
    const csrf = await csrfOf(vault, cookie);
    const forged = form({ csrf: 'x'.repeat(43) });
    const refused = await request(vault, { method: 'POST', path: '/console/sign-out', body: forged.body, headers: { ...forged.headers, cookie } });
    assert.equal(refused.status, 403);
    assert.equal((await request(vault, { path: '/v1/recordings', headers: { cookie } })).status, 200);
    const real = form({ csrf });
    const out = await request(vault, { method: 'POST', path: '/console/sign-out', body: real.body, headers: { ...real.headers, cookie } });
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/console/signed-out');
    assert.match(cookieOf(out), new RegExp(`^${SESSION}=$`));
    assert.match(([] as string[]).concat(out.headers['set-cookie'] ?? []).join(), /Max-Age=0/);
    assert.equal((await request(vault, { path: '/v1/recordings', headers: { cookie } })).status, 401);
    const page = await request(vault, { path: '/console/', headers: { cookie } });
    assert.equal(page.status, 303);
    assert.equal(page.headers.location, '/console/sign-in');
  });

  test('reported activity (a player that is playing) keeps the session in use; it needs the CSRF token and a live session', async () => {
    const db = vault.deps.db;
    const cookie = cookieOf(await devSignIn(vault, { tenant: 'acme', role: 'supervisor', sub: 'listener' }));
    const csrf = await csrfOf(vault, cookie);
    const activity = async (headers: Record<string, string>): Promise<{ status: number; type: unknown; code: unknown }> => {
      const res = await request(vault, { method: 'POST', path: '/console/activity', headers });
      return { status: res.status, type: res.headers['content-type'], code: res.status === 204 ? null : res.json().code };
    };
    const problem = (status: number, code: string) => ({ status, type: 'application/problem+json; charset=utf-8', code });
    assert.deepEqual(await activity({ cookie }), problem(403, 'csrf_failed'));
    await db('console_sessions').where({ sub: 'listener' }).update({ last_seen_at: db.raw("now() - interval '14 minutes'") });
    assert.equal((await activity({ cookie, 'x-csrf-token': csrf })).status, 204);
    const [row] = await db('console_sessions').where({ sub: 'listener' }).select(db.raw("last_seen_at > now() - interval '1 minute' AS fresh"));
    assert.equal(row?.fresh, true, 'the session counts as used now');
    assert.deepEqual(await activity({ 'x-csrf-token': csrf }), problem(401, 'session_expired'));
  });

  test('a sign-in ends abandoned sessions past their limits (audited) and deletes rows ended long ago', async () => {
    const db = vault.deps.db;
    await devSignIn(vault, { tenant: 'acme', role: 'agent', sub: 'left-open' });
    await devSignIn(vault, { tenant: 'acme', role: 'agent', sub: 'long-gone' });
    await db('console_sessions').where({ sub: 'left-open' }).update({ last_seen_at: db.raw("now() - interval '16 minutes'") });
    await db('console_sessions').where({ sub: 'long-gone' }).update({ ended_at: db.raw("now() - interval '31 days'"), end_reason: 'signed_out' });
    await devSignIn(vault, { tenant: 'acme', role: 'agent', sub: 'next-user' });
    const [left] = await db('console_sessions').where({ sub: 'left-open' });
    assert.equal(left?.end_reason, 'idle');
    assert.equal(left?.tokens, null);
    assert.equal((await db('console_sessions').where({ sub: 'long-gone' })).length, 0);
    const expired = (await auditRows(vault, { action: 'console.session_expired' })).filter((r) => r.details.sessionId === left?.id);
    assert.equal(expired.length, 1);
    assert.equal(expired[0]?.actor_sub, 'system:console-sessions');
    assert.deepEqual([expired[0]?.details.sub, expired[0]?.details.reason], ['left-open', 'idle']);
  });

  describe('in production mode', () => {
    let production: TestVault;

    before(async () => {
      const c = vault.config;
      assert.equal(c.keys.kind, 'local');
      const publicKey = path.join(vault.dataDir, 'secrets', 'jwt-public.pem');
      const privateKey = createPrivateKey(await import('node:fs/promises').then((fs) => fs.readFile(c.jwt.devSigningKey?.file ?? '')));
      await writeFile(publicKey, createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
      production = await startVault({
        replicaOf: vault,
        env: {
          CALLVAULT_MODE: 'production', TLS_CERT_FILE: c.http.tls.cert.file, TLS_KEY_FILE: c.http.tls.key.file, LOCAL_KEY_DIR: c.keys.kind === 'local' ? c.keys.dir : '',
          JWT_ISSUER: c.jwt.issuer, JWT_AUDIENCE: c.jwt.audience, JWT_PUBLIC_KEY_FILE: publicKey,
          LINK_SIGNING_KEY_FILE: c.links.signingKey.file, PHONE_HASH_KEY_FILE: c.phone.hashKey.file, AUDIT_ANCHOR_KEY_FILE: c.audit.anchorKey.file,
          AUDIT_NAMESPACE: c.audit.namespace,
        },
      });
    });
    after(async () => { await production?.close(); });

    test('there is no development sign-in: its routes answer 404 and no session is made', async () => {
      assert.equal(production.config.console.devSignIn, false);
      const get = await request(production, { path: '/console/sign-in' });
      assert.equal(get.status, 404);
      assert.doesNotMatch(get.body.toString(), /<form/);
      const post = await devSignIn(production, { tenant: 'acme', role: 'admin', sub: 'prod-intruder' });
      assert.equal(post.status, 404);
      assert.equal(post.headers['set-cookie'], undefined);
      assert.equal((await vault.deps.db('console_sessions').where({ sub: 'prod-intruder' })).length, 0);
      const page = await request(production, { path: '/console/' });
      assert.equal(page.status, 303, 'pages still ask for a session');
      assert.doesNotMatch((await request(production, { path: '/console/signed-out' })).body.toString(), /Development mode/);
    });
  });
});
