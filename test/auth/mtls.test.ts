import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { certificateNames, parseSubjectAltNames } from '../../src/auth/pbx-gate.js';
import { loadConfig } from '../../src/config/config.js';
import type { HttpResponse } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';
import { createAuthority, type Authority, type Issued } from './pki.js';
import { assertDenied, GENEROUS_LIMITS, scratchDir } from './support.js';

/** An upload over HTTPS, optionally presenting a client certificate. */
async function uploadWith(vault: TestVault, token: string, client?: Issued, method: 'PUT' | 'POST' = 'PUT'): Promise<HttpResponse> {
  const audio = await readFile(fixturePath('call-16k-mono.opus'));
  const boundary = 'mtls-boundary';
  const body = method === 'PUT' ? audio : Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="callId"\r\n\r\nmtls-${Date.now()}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.opus"\r\nContent-Type: audio/ogg\r\n\r\n`),
    audio, Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const target = method === 'PUT' ? `/v1/recordings/mtls-${process.hrtime.bigint()}.opus` : '/v1/recordings';
  const headers = {
    authorization: `Bearer ${token}`, 'content-length': String(body.length),
    'content-type': method === 'PUT' ? 'audio/ogg' : `multipart/form-data; boundary=${boundary}`,
  };
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(target, vault.url), {
      method, headers, ca: vault.ca, agent: false, ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: <T>() => JSON.parse(buf.toString('utf8')) as T });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function caFile(ca: Authority): Promise<string> {
  const dir = await scratchDir('callvault-client-ca-');
  const file = path.join(dir, 'client-ca.pem');
  await writeFile(file, ca.certPem);
  return file;
}

describe('mutual TLS required for pbx uploads', () => {
  let vault: TestVault;
  let ca: Authority;
  let pbxCert: Issued;

  before(async () => {
    ca = await createAuthority();
    pbxCert = await ca.issue({ cn: 'pbx-1.acme.example' });
    vault = await startVault({ env: { TLS_CLIENT_CA_FILE: await caFile(ca), TLS_REQUIRE_CLIENT_CERT_FOR_PBX: 'true', ...GENEROUS_LIMITS } });
  });
  after(async () => { await vault.close(); });

  test('an upload with a certificate from the client CA is accepted (PUT and multipart POST)', async () => {
    const token = await vault.token('pbx');
    const put = await uploadWith(vault, token, pbxCert);
    assert.equal(put.status, 201, put.body.toString());
    const post = await uploadWith(vault, token, pbxCert, 'POST');
    assert.equal(post.status, 201, post.body.toString());
  });

  test('without a client certificate the upload is 403 client_certificate_required, audited', async () => {
    const token = await vault.token('pbx', { sub: 'pbx-42' });
    const row = await assertDenied(vault, await uploadWith(vault, token), 403, 'client_certificate_required');
    assert.equal(row.actor_sub, 'pbx-42');
    assert.equal(row.tenant, 'acme');
    await assertDenied(vault, await uploadWith(vault, token, undefined, 'POST'), 403, 'client_certificate_required');
  });

  test('a certificate from another CA, or an expired one, does not count', async () => {
    const token = await vault.token('pbx');
    const stranger = await (await createAuthority('CN=Some Other CA')).issue({ cn: 'pbx-1.acme.example' });
    await assertDenied(vault, await uploadWith(vault, token, stranger), 403, 'client_certificate_required');
    const expired = await ca.issue({ cn: 'pbx-1.acme.example', expired: true });
    await assertDenied(vault, await uploadWith(vault, token, expired), 403, 'client_certificate_required');
    const selfSignedCa = await createAuthority('CN=pbx-1.acme.example');
    await assertDenied(vault, await uploadWith(vault, token, selfSignedCa), 403, 'client_certificate_required');
  });

  test('a certificate does not replace the token: authentication still comes first', async () => {
    const res = await uploadWith(vault, 'not-a-token', pbxCert);
    assert.equal(res.status, 401);
    const agent = await vault.token('agent');
    await assertDenied(vault, await uploadWith(vault, agent, pbxCert), 403, 'forbidden');
  });
});

describe('mutual TLS with the certificate bound to the token subject', () => {
  let vault: TestVault;
  let ca: Authority;

  before(async () => {
    ca = await createAuthority();
    vault = await startVault({
      env: { TLS_CLIENT_CA_FILE: await caFile(ca), TLS_REQUIRE_CLIENT_CERT_FOR_PBX: 'true', TLS_PBX_CERT_MUST_MATCH_SUB: 'true', ...GENEROUS_LIMITS },
    });
  });
  after(async () => { await vault.close(); });

  test('the subject CN or a DNS/URI SAN must equal the token sub', async () => {
    const byCn = await ca.issue({ cn: 'pbx-7' });
    assert.equal((await uploadWith(vault, await vault.token('pbx', { sub: 'pbx-7' }), byCn)).status, 201);
    const bySan = await ca.issue({ cn: 'ignored', sans: [{ type: 'dns', value: 'pbx-9.acme.example' }, { type: 'url', value: 'spiffe://acme/pbx/9' }] });
    assert.equal((await uploadWith(vault, await vault.token('pbx', { sub: 'pbx-9.acme.example' }), bySan)).status, 201);
    assert.equal((await uploadWith(vault, await vault.token('pbx', { sub: 'spiffe://acme/pbx/9' }), bySan)).status, 201);
  });

  test('a certificate naming another PBX is 403 client_certificate_mismatch, audited', async () => {
    const other = await ca.issue({ cn: 'pbx-7', sans: [{ type: 'dns', value: 'pbx-7.acme.example' }] });
    const row = await assertDenied(vault, await uploadWith(vault, await vault.token('pbx', { sub: 'pbx-8' }), other), 403, 'client_certificate_mismatch');
    assert.equal(row.actor_sub, 'pbx-8');
    await assertDenied(vault, await uploadWith(vault, await vault.token('pbx', { sub: 'pbx-7' })), 403, 'client_certificate_required');
  });
});

describe('certificate names', () => {
  test('SAN parsing keeps quoted values whole, so a crafted name cannot add an entry', () => {
    assert.deepEqual(parseSubjectAltNames('DNS:a.example, URI:spiffe://x/y, email:p@x.example, IP Address:10.0.0.1'), ['a.example', 'spiffe://x/y', 'p@x.example']);
    assert.deepEqual(parseSubjectAltNames('DNS:"evil, DNS:pbx-1", DNS:b'), ['evil, DNS:pbx-1', 'b']);
    assert.deepEqual(parseSubjectAltNames(''), []);
    assert.deepEqual(certificateNames({ subject: { CN: ['a', 'b'] }, subjectaltname: 'DNS:c' }), ['a', 'b', 'c']);
    assert.deepEqual(certificateNames({ subject: null }), []);
  });

  test('binding the certificate to the subject requires mutual TLS to be required', () => {
    assert.throws(() => loadConfig({ CALLVAULT_DATA_DIR: '/nonexistent', TLS_PBX_CERT_MUST_MATCH_SUB: 'true' }), /TLS_PBX_CERT_MUST_MATCH_SUB/);
    assert.throws(() => loadConfig({ CALLVAULT_DATA_DIR: '/nonexistent', TLS_REQUIRE_CLIENT_CERT_FOR_PBX: 'true' }), /TLS_CLIENT_CA_FILE/);
  });
});
