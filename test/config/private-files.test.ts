import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureAnchorKey } from '../../src/audit/anchors.js';
import { ensureDevSigningKey, mintDevToken } from '../../src/auth/dev-issuer.js';
import { keySourceFromConfig } from '../../src/auth/jwt.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/schema.js';
import { loadSecret } from '../../src/config/secrets.js';
import { loadTls } from '../../src/http/tls.js';

/**
 * Every private key the vault reads must be readable by its owner alone, not only the master
 * keys and the symmetric secrets: a TLS, anchor or JWT signing key that others can read is as
 * good as published. Each loader refuses mode 0644 naming its variable, and accepts 0600.
 */
const pem = (type: 'ec' | 'ed25519'): string => {
  const { privateKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
};

describe('private key files must be mode 0600', () => {
  let dir: string;
  let config: Config;
  const files: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'callvault-private-'));
    const contents: Record<string, string> = {
      TLS_KEY_FILE: pem('ec'), TLS_CERT_FILE: 'certificate, not checked here\n', AUDIT_ANCHOR_KEY_FILE: pem('ed25519'),
      JWT_DEV_SIGNING_KEY_FILE: pem('ec'), LINK_SIGNING_KEY_FILE: `${randomBytes(32).toString('base64')}\n`,
    };
    for (const [variable, content] of Object.entries(contents)) {
      files[variable] = path.join(dir, variable.toLowerCase());
      await writeFile(files[variable], content, { mode: 0o600 });
    }
    config = loadConfig({ CALLVAULT_DATA_DIR: dir, ...files });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const loaders: Array<[string, string, () => Promise<unknown>]> = [
    ['TLS_KEY_FILE', 'the HTTPS listener', () => loadTls(config.http.tls)],
    ['AUDIT_ANCHOR_KEY_FILE', 'the anchor signer', () => ensureAnchorKey(config.audit.anchorKey.file, false)],
    ['JWT_DEV_SIGNING_KEY_FILE', 'the development issuer at start', async () => { if (config.jwt.devSigningKey) await ensureDevSigningKey(config.jwt.devSigningKey); }],
    ['JWT_DEV_SIGNING_KEY_FILE', 'the token verifier', () => keySourceFromConfig(config.jwt)],
    ['JWT_DEV_SIGNING_KEY_FILE', 'callvault token', () => mintDevToken(files.JWT_DEV_SIGNING_KEY_FILE ?? '', { tenant: 'acme', roles: ['pbx'], sub: 'p', issuer: 'i', audience: 'a' })],
    ['LINK_SIGNING_KEY_FILE', 'the link signer', () => loadSecret(config.links.signingKey, 'LINK_SIGNING_KEY_FILE')],
  ];

  for (const [variable, reader, load] of loaders) {
    test(`${variable}, read by ${reader}`, async () => {
      const file = files[variable] ?? '';
      await chmod(file, 0o644);
      try {
        await assert.rejects(load(), (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.equal(err.variable, variable);
          assert.match(err.message, /has mode 0644: a private key must not be readable by group or others \(chmod 600\)/);
          return true;
        });
      } finally {
        await chmod(file, 0o600);
      }
      await load();
    });
  }
});
