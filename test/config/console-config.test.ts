import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/schema.js';

/** The console's settings: defaults, the production rules, and contradictions named at start. */
const DATA_DIR = path.join(os.tmpdir(), 'callvault-console-config-never-created');
const PRODUCTION = {
  CALLVAULT_MODE: 'production', TLS_CERT_FILE: '/run/secrets/tls.crt', TLS_KEY_FILE: '/run/secrets/tls.key',
  DATABASE_URL: 'postgres://callvault_app@db/callvault', LOCAL_KEY_DIR: '/run/secrets/master-keys',
  JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'callvault', JWT_JWKS_URI: 'https://idp.example/jwks',
  LINK_SIGNING_KEY_FILE: '/run/secrets/link.key', PHONE_HASH_KEY_FILE: '/run/secrets/phone.key', AUDIT_ANCHOR_KEY_FILE: '/run/secrets/anchor.pem',
  AUDIT_NAMESPACE: 'callvault.example.com/prod-eu',
};
const OIDC = { CONSOLE_OIDC_ISSUER: 'https://idp.example/realms/acme', CONSOLE_OIDC_CLIENT_ID: 'callvault-console' };

function rejects(env: Record<string, string>, variable: string): void {
  assert.throws(() => loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ...env }), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.variable, variable, err.message);
    return true;
  });
}

test('embedded defaults: development sign-in, 15 minutes idle, 8 hours at most, no OIDC, no MFA rule', () => {
  const { console: c } = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR });
  assert.deepEqual(c, { devSignIn: true, idleTimeoutMs: 15 * 60_000, maxAgeMs: 8 * 3_600_000, linkRequiresMfa: false, mfaAcrValues: [], oidc: undefined });
});

test('production never has the development sign-in; OIDC there needs PUBLIC_URL for its redirect URI', () => {
  assert.equal(loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ...PRODUCTION }).console.devSignIn, false);
  rejects({ ...PRODUCTION, ...OIDC }, 'PUBLIC_URL');
  const c = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ...PRODUCTION, ...OIDC, PUBLIC_URL: 'https://vault.example', CONSOLE_OIDC_CLIENT_SECRET_FILE: '/run/secrets/oidc' }).console;
  assert.equal(c.devSignIn, false);
  assert.deepEqual(c.oidc, { issuer: OIDC.CONSOLE_OIDC_ISSUER, clientId: 'callvault-console', scopes: 'openid profile', clientSecret: { file: '/run/secrets/oidc', generate: false } });
});

test('contradictions are named', () => {
  rejects({ CONSOLE_OIDC_ISSUER: OIDC.CONSOLE_OIDC_ISSUER }, 'CONSOLE_OIDC_CLIENT_ID');
  rejects({ CONSOLE_OIDC_CLIENT_ID: 'x' }, 'CONSOLE_OIDC_ISSUER');
  rejects({ ...OIDC, CONSOLE_OIDC_ISSUER: 'http://idp.example' }, 'CONSOLE_OIDC_ISSUER');
  rejects({ ...OIDC, CONSOLE_OIDC_SCOPES: 'profile email' }, 'CONSOLE_OIDC_SCOPES');
  rejects({ CONSOLE_IDLE_TIMEOUT: 'PT9H' }, 'CONSOLE_IDLE_TIMEOUT');
  rejects({ CONSOLE_SESSION_MAX_AGE: 'P2D' }, 'CONSOLE_SESSION_MAX_AGE');
  rejects({ CONSOLE_IDLE_TIMEOUT: 'soon' }, 'CONSOLE_IDLE_TIMEOUT');
  rejects({ CONSOLE_LINK_REQUIRES_MFA: 'maybe' }, 'CONSOLE_LINK_REQUIRES_MFA');
  const local = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ...OIDC, CONSOLE_OIDC_ISSUER: 'http://127.0.0.1:9000', CONSOLE_MFA_ACR_VALUES: 'urn:mfa, gold' });
  assert.equal(local.console.oidc?.issuer, 'http://127.0.0.1:9000', 'plain http only for an issuer on this host');
  assert.deepEqual(local.console.mfaAcrValues, ['urn:mfa', 'gold']);
});
