import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { durationMs } from '../../src/config/duration.js';
import { ConfigError, longestUploadMs } from '../../src/config/schema.js';
import { serveUntilExit, type ServeExit } from '../helpers/process.js';

/**
 * Configuration is validated once, at start: a bad or contradictory value stops the process with
 * a message naming the variable, before anything (database, files, listener) is started.
 */
const DATA_DIR = path.join(os.tmpdir(), 'callvault-config-test-never-created');

function rejects(env: Record<string, string>, variable: string): void {
  assert.throws(() => loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ...env }), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.variable, variable, err.message);
    assert.ok(err.message.startsWith(`${variable}: `), err.message);
    return true;
  });
}

/** Every object reachable from value, with its path. */
function* objects(value: unknown, at = 'config'): Generator<[string, object]> {
  if (value === null || typeof value !== 'object') return;
  yield [at, value];
  for (const [k, v] of Object.entries(value)) yield* objects(v, `${at}.${k}`);
}

describe('loadConfig', () => {
  const bad: Array<[string, Record<string, string>, string]> = [
    ['a port that is not a number', { PORT: 'abc' }, 'PORT'],
    ['a port out of range', { PORT: '70000' }, 'PORT'],
    ['STORAGE_DRIVER=s3 without a bucket', { STORAGE_DRIVER: 's3' }, 'S3_BUCKET'],
    ['a bucket without STORAGE_DRIVER=s3', { S3_BUCKET: 'recordings' }, 'STORAGE_DRIVER'],
    ['a certificate without its key', { TLS_CERT_FILE: '/etc/callvault/tls.crt' }, 'TLS_KEY_FILE'],
    ['a key without its certificate', { TLS_KEY_FILE: '/etc/callvault/tls.key' }, 'TLS_CERT_FILE'],
    ['a symmetric JWT algorithm', { JWT_ALGORITHMS: 'HS256' }, 'JWT_ALGORITHMS'],
    ['alg none among good ones', { JWT_ALGORITHMS: 'RS256,none' }, 'JWT_ALGORITHMS'],
    ['KEY_PROVIDER=aws-kms without a key', { KEY_PROVIDER: 'aws-kms' }, 'KMS_KEY_ID'],
    ['an unknown key provider', { KEY_PROVIDER: 'vault' }, 'KEY_PROVIDER'],
    ['a retention interval that is not ISO-8601', { RETENTION_INTERVAL: '5min' }, 'RETENTION_INTERVAL'],
    ['a default retention that is not ISO-8601', { DEFAULT_RETENTION: '90 days' }, 'DEFAULT_RETENTION'],
    ['an admin URL without a service URL', { DATABASE_ADMIN_URL: 'postgres://owner@db/callvault' }, 'DATABASE_URL'],
    ['a database URL that is not a URL', { DATABASE_URL: 'db:5432' }, 'DATABASE_URL'],
    ['a default link TTL above the maximum', { LINK_DEFAULT_TTL_SECONDS: '600', LINK_MAX_TTL_SECONDS: '300' }, 'LINK_DEFAULT_TTL_SECONDS'],
    ['a JWKS URL over plain http to another host', { JWT_ISSUER: 'https://idp', JWT_AUDIENCE: 'cv', JWT_JWKS_URI: 'http://idp.example/jwks' }, 'JWT_JWKS_URI'],
    ['an issuer without an audience', { JWT_ISSUER: 'https://idp', JWT_JWKS_URI: 'https://idp/jwks' }, 'JWT_AUDIENCE'],
    ['a CIDR list with a host name', { PBX_ALLOWED_CIDRS: '10.0.0.0/8,pbx.example' }, 'PBX_ALLOWED_CIDRS'],
    ['an unknown mode', { CALLVAULT_MODE: 'prod' }, 'CALLVAULT_MODE'],
    ['an embed origin with a path', { MEDIA_EMBED_ORIGINS: 'https://crm.example.com/app' }, 'MEDIA_EMBED_ORIGINS'],
    ['an embed origin without a scheme', { MEDIA_EMBED_ORIGINS: 'https://qa.example.com,crm.example.com' }, 'MEDIA_EMBED_ORIGINS'],
    ['a wildcard embed origin', { MEDIA_EMBED_ORIGINS: '*' }, 'MEDIA_EMBED_ORIGINS'],
    ['an embed origin with credentials', { MEDIA_EMBED_ORIGINS: 'https://user:pw@crm.example.com' }, 'MEDIA_EMBED_ORIGINS'],
    ['an embed origin that is not web', { MEDIA_EMBED_ORIGINS: 'ftp://crm.example.com' }, 'MEDIA_EMBED_ORIGINS'],
  ];
  for (const [what, env, variable] of bad) {
    test(`rejects ${what}, naming ${variable}`, () => rejects(env, variable));
  }

  test('a rejected URL is named, never echoed: it may carry a password', () => {
    assert.throws(() => loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, DATABASE_URL: 'mysql://app:s3cret-pw@db/callvault' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, 'DATABASE_URL');
      assert.doesNotMatch(err.message, /s3cret-pw/);
      return true;
    });
  });

  test('CALLVAULT_MODE=production has no default secret: each missing setting is named in turn', () => {
    const env: Record<string, string> = { CALLVAULT_MODE: 'production' };
    const required: Array<[string, Record<string, string>]> = [
      ['TLS_CERT_FILE', { TLS_CERT_FILE: '/run/secrets/tls.crt', TLS_KEY_FILE: '/run/secrets/tls.key' }],
      ['DATABASE_URL', { DATABASE_URL: 'postgres://callvault_app@db/callvault' }],
      ['LOCAL_KEY_DIR', { LOCAL_KEY_DIR: '/run/secrets/master-keys' }],
      ['JWT_ISSUER', { JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'callvault', JWT_JWKS_URI: 'https://idp.example/jwks' }],
      ['LINK_SIGNING_KEY_FILE', { LINK_SIGNING_KEY_FILE: '/run/secrets/link.key' }],
      ['PHONE_HASH_KEY_FILE', { PHONE_HASH_KEY_FILE: '/run/secrets/phone.key' }],
      ['AUDIT_ANCHOR_KEY_FILE', { AUDIT_ANCHOR_KEY_FILE: '/run/secrets/anchor.pem' }],
      ['AUDIT_NAMESPACE', { AUDIT_NAMESPACE: 'callvault.example.com/prod-eu' }],
    ];
    for (const [variable, fix] of required) {
      rejects(env, variable);
      Object.assign(env, fix);
    }
    const config = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ...env });
    assert.equal(config.mode, 'production');
    assert.equal(config.database.embedded, false);
    assert.equal(config.jwt.devSigningKey, undefined, 'no development issuer in production');
    const generated = [...objects(config)].filter(([, o]) => (o as { generate?: unknown }).generate === true).map(([at]) => at);
    assert.deepEqual(generated, [], 'no secret is generated');
  });

  test('AUDIT_NAMESPACE: a stable schema-less URL, defaulted only in embedded mode', () => {
    assert.equal(loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR }).audit.namespace, 'callvault.localhost/embedded');
    assert.equal(loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, AUDIT_NAMESPACE: 'callvault.example.com/prod-eu' }).audit.namespace, 'callvault.example.com/prod-eu');
    for (const bad of ['https://callvault.example.com', 'callvault.example.com/prod/', 'localhost', 'call vault.example.com', 'a+b.example.com']) {
      rejects({ AUDIT_NAMESPACE: bad }, 'AUDIT_NAMESPACE');
    }
  });

  test('the embedded defaults need no variable at all, and every part falls back on its own', () => {
    const config = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR });
    assert.equal(config.http.port, 8443);
    assert.equal(config.database.embedded, true);
    assert.equal(config.storage.driver, 'fs');
    assert.equal(config.keys.kind, 'local');
    assert.equal(config.http.tls.cert.file, path.join(DATA_DIR, 'tls', 'server.crt'));
    const external = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, DATABASE_URL: 'postgres://app@db/callvault' });
    assert.equal(external.database.embedded, false);
    assert.equal(external.database.adminUrl, 'postgres://app@db/callvault', 'DATABASE_ADMIN_URL falls back to DATABASE_URL');
    assert.equal(external.storage.driver, 'fs');
    assert.ok(external.jwt.devSigningKey, 'the rest stays embedded');
  });

  test('MEDIA_EMBED_ORIGINS is a list of serialised origins, empty by default', () => {
    assert.deepEqual(loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR }).media.embedOrigins, []);
    const config = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, MEDIA_EMBED_ORIGINS: ' https://CRM.example.com/ , http://localhost:3000,https://qa.example.com:443' });
    assert.deepEqual(config.media.embedOrigins, ['https://crm.example.com', 'http://localhost:3000', 'https://qa.example.com']);
  });

  test('ORPHAN_GRACE must outlast the longest request plus a margin; the message names both', () => {
    const fails = (env: Record<string, string>, variable: string): void => {
      assert.throws(() => loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ...env }), (err: unknown) => {
        assert.ok(err instanceof ConfigError && err.variable === variable, String(err));
        assert.match(err.message, /ORPHAN_GRACE/);
        assert.match(err.message, /HTTP_REQUEST_TIMEOUT_MS/);
        return true;
      });
    };
    fails({ ORPHAN_GRACE: 'PT1H' }, 'ORPHAN_GRACE');
    fails({ ORPHAN_GRACE: 'PT30M', HTTP_REQUEST_TIMEOUT_MS: '1800000' }, 'ORPHAN_GRACE');
    fails({ ORPHAN_GRACE: 'PT2S', HTTP_REQUEST_TIMEOUT_MS: '1500' }, 'ORPHAN_GRACE');
    fails({ HTTP_REQUEST_TIMEOUT_MS: '0' }, 'HTTP_REQUEST_TIMEOUT_MS');
    const defaults = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR });
    assert.deepEqual([defaults.http.requestTimeoutMs, durationMs(defaults.retention.orphanGrace)], [3_600_000, 7_200_000], 'the defaults pass');
    assert.equal(durationMs(loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ORPHAN_GRACE: 'PT1H7M', HTTP_REQUEST_TIMEOUT_MS: '3600000' }).retention.orphanGrace), 4_020_000);
    assert.ok(loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, ORPHAN_GRACE: 'PT2S', HTTP_REQUEST_TIMEOUT_MS: '500' }));
    assert.equal(longestUploadMs(3_600_000), 3_960_000);
  });

  test('the result is deeply frozen', () => {
    const config = loadConfig({ CALLVAULT_DATA_DIR: DATA_DIR, PBX_ALLOWED_CIDRS: '10.0.0.0/8' });
    const all = [...objects(config)];
    assert.ok(all.length > 15);
    for (const [at, o] of all) assert.ok(Object.isFrozen(o), `${at} is frozen`);
    const mutable = config as unknown as { http: { port: number }; limits: { pbxAllowedCidrs: string[] } };
    assert.throws(() => { mutable.http.port = 1; }, TypeError);
    assert.throws(() => { mutable.limits.pbxAllowedCidrs.push('0.0.0.0/0'); }, TypeError);
    assert.equal(config.http.port, 8443);
  });
});

describe('callvault serve with a bad variable', () => {
  const serve = (env: Record<string, string>): Promise<ServeExit> => serveUntilExit({ DATABASE_URL: '', DATABASE_ADMIN_URL: '', CALLVAULT_DATA_DIR: DATA_DIR, ...env });

  for (const [env, variable] of [[{ PORT: 'abc' }, 'PORT'], [{ STORAGE_DRIVER: 's3' }, 'S3_BUCKET'], [{ CALLVAULT_MODE: 'production' }, 'TLS_CERT_FILE'], [{ ORPHAN_GRACE: 'PT1H' }, 'ORPHAN_GRACE']] as const) {
    test(`${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}: exit 78 naming ${variable}, nothing started`, async () => {
      const res = await serve(env);
      assert.equal(res.code, 78, res.stderr);
      assert.match(res.stderr, new RegExp(`^callvault: configuration error: ${variable}: `, 'm'));
      assert.doesNotMatch(res.stdout + res.stderr, /listening|postgres|at Object|\n\s+at /i, 'no start, no stack trace');
      assert.equal(existsSync(DATA_DIR), false, 'the data directory was not even created');
    });
  }
});
