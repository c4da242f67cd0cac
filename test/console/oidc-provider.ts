/**
 * A real OpenID Provider for the console's sign-in tests, built on `oidc-provider` and served
 * over HTTP on 127.0.0.1 (port 0). It requires PKCE from every client, includes the tenant and
 * roles claims in ID tokens, supports RP-initiated logout, and has a plain login form whose
 * "second factor" box decides the `amr` of the sign-in. It lives only under test/.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type ProviderContext } from 'oidc-provider';

export interface Account {
  readonly tenant?: string;
  readonly roles?: readonly string[];
}

export interface TestProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Registers the vault's redirect and post-logout URIs and starts answering. */
  attach(vaultOrigin: string): void;
  /** Every request the provider received, as `METHOD path?query`. */
  readonly requests: string[];
  /**
   * The provider's next redirect back to the vault's callback is answered with a page instead
   * (the browser stays here) and its URL returned: what an attacker who saw it would hold.
   */
  holdNextCallback(): Promise<URL>;
  close(): Promise<void>;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function startTestProvider(accounts: Readonly<Record<string, Account>>): Promise<TestProvider> {
  const requests: string[] = [];
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  let hold: ((url: URL) => void) | null = null;
  const server = http.createServer((req, res) => {
    requests.push(`${req.method ?? 'GET'} ${req.url ?? '/'}`);
    if (!handler) { res.writeHead(503).end(); return; }
    if (req.url === '/favicon.ico') { res.writeHead(204).end(); return; }
    if (hold) holdCallback(res, (url) => { hold?.(url); hold = null; });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'callvault-console';
  const clientSecret = randomBytes(24).toString('base64url');
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

  const attach = (vaultOrigin: string): void => {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: clientId, client_secret: clientSecret, token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [`${vaultOrigin}/console/oidc/callback`], post_logout_redirect_uris: [`${vaultOrigin}/console/signed-out`],
        grant_types: ['authorization_code'], response_types: ['code'],
      }],
      jwks: { keys: [{ ...signingKey, kid: 'test-1', use: 'sig', alg: 'RS256' }] },
      pkce: { required: () => true },
      scopes: ['openid', 'callvault'],
      claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], callvault: ['tenant', 'roles'] },
      conformIdTokenClaims: false,
      cookies: { keys: [randomBytes(32).toString('hex')] },
      features: {
        devInteractions: { enabled: false },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: (ctx: ProviderContext, form: string) => {
            ctx.type = 'html';
            ctx.body = page('Sign out of the identity provider?', `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>`);
          },
        },
      },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      findAccount: (_ctx: unknown, id: string) => {
        const account = accounts[id];
        if (!account) return undefined;
        return { accountId: id, claims: () => ({ sub: id, ...(account.tenant ? { tenant: account.tenant } : {}), ...(account.roles ? { roles: account.roles } : {}) }) };
      },
      // No consent screen: the console is this provider's first-party client.
      loadExistingGrant: async (ctx: ProviderContext) => {
        const { oidc } = ctx;
        if (!oidc.client || !oidc.session?.accountId) return undefined;
        const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
        if (grantId) return oidc.provider.Grant.find(grantId);
        const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
        grant.addOIDCScope('openid callvault');
        grant.addOIDCClaims(['tenant', 'roles', 'acr', 'amr', 'auth_time']);
        await grant.save();
        return grant;
      },
      renderError: (ctx: ProviderContext, out: Record<string, unknown>) => {
        ctx.type = 'html';
        ctx.body = page('Identity provider error', `<p id="error">${escape(String(out.error ?? ''))}: ${escape(String(out.error_description ?? ''))}</p>`);
      },
    });
    const callback = provider.callback();
    handler = (req, res) => {
      if (req.url?.startsWith('/interaction/')) {
        interaction(provider, req, res).catch((err: unknown) => { res.writeHead(500).end(String(err)); });
        return;
      }
      callback(req, res);
    };
  };

  return {
    issuer, clientId, clientSecret, attach, requests,
    holdNextCallback: () => new Promise<URL>((resolve) => { hold = resolve; }),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Rewrites a redirect to the vault's callback, when this response turns out to be one, into a plain page. */
function holdCallback(res: ServerResponse, onHeld: (url: URL) => void): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const location = res.getHeader('location');
    if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string' && location.includes('/console/oidc/callback')) {
      onHeld(new URL(location));
      res.statusCode = 200;
      res.removeHeader('location');
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.removeHeader('content-length');
      return end(page('Held', '<p id="held">The redirect back was held.</p>'));
    }
    return end(...args);
  }) as typeof res.end;
}

/** The login form: a user name and whether a second factor was used (amr pwd, or pwd + mfa + otp). */
async function interaction(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'POST') {
    const form = await formBody(req);
    const mfa = form.get('mfa') === 'on';
    await provider.interactionFinished(req, res, {
      login: { accountId: form.get('login') ?? '', amr: mfa ? ['pwd', 'mfa', 'otp'] : ['pwd'], acr: mfa ? 'urn:test:mfa' : 'urn:test:pwd' },
    }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('Identity provider sign-in', `
<form method="post" action="/interaction/${escape(details.uid)}">
<label for="login">User</label><input id="login" name="login" autocomplete="off">
<label><input type="checkbox" id="mfa" name="mfa"> Second factor</label>
<button type="submit" id="idp-sign-in">Sign in</button>
</form>`));
}
