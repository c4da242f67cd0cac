import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import { principalFromClaims } from '../auth/claims.js';
import type { Principal } from '../auth/permissions.js';
import type { Config } from '../config/config.js';
import type { Db } from '../db/knex.js';
import { IdentityProviderUnavailableError } from '../errors.js';
import { seal, unseal } from '../lib/seal.js';
import { sameSecret } from './session-token.js';
import type { ProviderTokens } from './sessions.js';
import { returnTo } from './return-to.js';

/**
 * OIDC sign-in for the console: authorization code with PKCE (S256), state and nonce, in the
 * backend-for-frontend pattern. The PKCE verifier and the nonce wait in console_sign_ins (sealed)
 * between the redirect and the callback; the state is both that row's key (by its SHA-256) and a
 * cookie of the browser that started the sign-in, so a callback from another browser fails.
 * Tokens never leave the server: the ID token's claims become the session's principal through
 * the same claim rules as bearer tokens (src/auth/claims.ts), so one identity is one principal.
 */
export interface OidcSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly scopes: string;
  readonly claims: Config['jwt']['claims'];
  readonly sealKey: Buffer;
}

export interface SignInResult {
  readonly principal: Principal;
  readonly amr: readonly string[];
  readonly acr: string | null;
  readonly tokens: ProviderTokens;
  /** The console page the sign-in started from (return-to.ts). */
  readonly returnTo: string;
}

/** Why a callback was refused; the code is audited and shown to the user. */
export class SignInFailed extends Error {
  constructor(readonly reason: 'state_mismatch' | 'request_expired' | 'provider_error' | 'token_exchange_failed' | 'invalid_claims', message: string) {
    super(message);
    this.name = 'SignInFailed';
  }
}

/** How long a started sign-in may take at the identity provider. */
export const SIGN_IN_WINDOW_SECONDS = 600;
const PROVIDER_TIMEOUT_SECONDS = 10;

/** Sealed with the state until the callback: `returnTo` is the console page the sign-in goes on to. */
interface Pending { verifier: string; nonce: string; returnTo?: string }

function stateHash(state: string): Buffer {
  return createHash('sha256').update(state).digest();
}

/** Plain HTTP only for an issuer on this host (a local identity provider); the config enforces it. */
function isLoopbackHttp(issuer: string): boolean {
  const u = new URL(issuer);
  return u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
}

/** The most specific message of a client error (openid-client wraps oauth4webapi's, which names the claim). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return 'error';
  const inner = err.cause instanceof Error ? err.cause.message : '';
  return (inner && inner !== err.message ? `${err.message} (${inner})` : err.message).slice(0, 300);
}

export class OidcSignIn {
  private configuration: Promise<client.Configuration> | null = null;

  constructor(private readonly db: Db, private readonly settings: OidcSettings) {}

  /** Discovery runs on first use and is remembered; a failed discovery is retried next time. */
  private async config(): Promise<client.Configuration> {
    this.configuration ??= this.discover();
    try {
      return await this.configuration;
    } catch (err) {
      this.configuration = null;
      throw new IdentityProviderUnavailableError('The identity provider could not be reached for sign-in', err);
    }
  }

  private async discover(): Promise<client.Configuration> {
    const s = this.settings;
    const auth = s.clientSecret ? client.ClientSecretBasic(s.clientSecret) : client.None();
    const execute = isLoopbackHttp(s.issuer) ? [client.allowInsecureRequests] : [];
    const config = await client.discovery(new URL(s.issuer), s.clientId, undefined, auth, { execute, timeout: PROVIDER_TIMEOUT_SECONDS });
    config.timeout = PROVIDER_TIMEOUT_SECONDS;
    return config;
  }

  /** The authorization URL to send the browser to, and the state its cookie must hold. */
  async start(redirectUri: string, returnTo: string): Promise<{ url: URL; state: string }> {
    const config = await this.config();
    await this.sweep();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const hash = stateHash(state);
    const pending: Pending = { verifier, nonce, returnTo };
    await this.db('console_sign_ins').insert({ state_hash: hash, sealed: seal(this.settings.sealKey, Buffer.from(JSON.stringify(pending)), hash.toString('hex')) });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: this.settings.scopes, state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    return { url, state };
  }

  /**
   * Completes the callback at `callbackUrl` (the redirect URI with the provider's query) for the
   * browser whose state cookie is `cookieState`. The pending row is deleted as it is read, so a
   * callback works once.
   */
  async finish(callbackUrl: URL, cookieState: string | null): Promise<SignInResult> {
    const state = callbackUrl.searchParams.get('state');
    if (!state || !cookieState || !sameSecret(state, cookieState)) {
      throw new SignInFailed('state_mismatch', 'The sign-in response does not belong to this browser\'s sign-in');
    }
    const pending = await this.takePending(state);
    const error = callbackUrl.searchParams.get('error');
    if (error) throw new SignInFailed('provider_error', `The identity provider refused the sign-in (${error.slice(0, 64)})`);
    const config = await this.config();
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: pending.verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true,
      });
    } catch (err) {
      throw new SignInFailed('token_exchange_failed', `The sign-in could not be completed: ${describe(err)}`);
    }
    const claims = tokens.claims();
    if (!claims) throw new SignInFailed('token_exchange_failed', 'The identity provider returned no ID token');
    let principal: Principal;
    try {
      principal = principalFromClaims(claims, this.settings.claims);
    } catch (err) {
      throw new SignInFailed('invalid_claims', err instanceof Error ? err.message : 'The ID token\'s claims name no principal');
    }
    return {
      principal,
      amr: Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string').slice(0, 16) : [],
      acr: typeof claims.acr === 'string' ? claims.acr : null,
      tokens: { idToken: tokens.id_token, accessToken: tokens.access_token, refreshToken: tokens.refresh_token },
      returnTo: returnTo(pending.returnTo),
    };
  }

  /**
   * RP-initiated logout at the provider, when it offers an end_session_endpoint. The browser
   * carries this URL, so it names the client, not the ID token (no id_token_hint): the token
   * stays on the server even at sign-out.
   */
  async endSessionUrl(postLogoutRedirectUri: string): Promise<URL | null> {
    const config = await this.config().catch(() => null);
    if (!config?.serverMetadata().end_session_endpoint) return null;
    return client.buildEndSessionUrl(config, { post_logout_redirect_uri: postLogoutRedirectUri, client_id: this.settings.clientId });
  }

  private async takePending(state: string): Promise<Pending> {
    const hash = stateHash(state);
    const rows = await this.db('console_sign_ins').where({ state_hash: hash })
      .andWhereRaw('created_at > now() - make_interval(secs => ?)', [SIGN_IN_WINDOW_SECONDS]).delete(['sealed']) as Array<{ sealed: Buffer }>;
    const row = rows[0];
    if (!row) throw new SignInFailed('request_expired', 'This sign-in has expired or was already used; start again');
    return JSON.parse(unseal(this.settings.sealKey, row.sealed, hash.toString('hex')).toString('utf8')) as Pending;
  }

  /** Started sign-ins that were never finished: deleted after their window. */
  async sweep(): Promise<number> {
    return this.db('console_sign_ins').whereRaw('created_at <= now() - make_interval(secs => ?)', [SIGN_IN_WINDOW_SECONDS]).delete();
  }
}

