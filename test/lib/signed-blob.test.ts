import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { SignedBlobCodec, deriveKey } from '../../src/lib/signed-blob.js';
import { LinkSigner } from '../../src/links/token.js';
import { CursorCodec, auditFilters, type CursorScope } from '../../src/recordings/search.js';

const secret = randomBytes(32);

test('seals and opens; a changed payload, MAC, binding or label is refused', () => {
  const codec = new SignedBlobCodec(secret, 'test blob v1');
  const sealed = codec.seal({ a: 1, b: 'x' }, 'scope-1');
  assert.deepEqual(codec.open(sealed, 'scope-1'), { ok: true, value: { a: 1, b: 'x' } });
  assert.deepEqual(codec.open(sealed, 'scope-2'), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(codec.open(sealed), { ok: false, reason: 'bad_signature' });
  assert.deepEqual(new SignedBlobCodec(secret, 'other v1').open(sealed, 'scope-1'), { ok: false, reason: 'bad_signature' });
  const [payload, mac] = sealed.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ a: 2, b: 'x' })).toString('base64url');
  assert.deepEqual(codec.open(`${forged}.${mac}`, 'scope-1'), { ok: false, reason: 'bad_signature' });
  for (const bad of ['', payload, `${payload}.`, `${payload}.${mac}.x`, `${payload}.${mac}=`, 'a'.repeat(5000)]) {
    assert.deepEqual(codec.open(bad, 'scope-1'), { ok: false, reason: 'malformed' }, bad.slice(0, 40));
  }
});

test('a correctly MACed payload that is not JSON is malformed, not an exception', () => {
  const codec = new SignedBlobCodec(secret, 'test blob v1');
  const notJson = Buffer.from('{nope').toString('base64url');
  const mac = createHmac('sha256', deriveKey(secret, 'test blob v1')).update(notJson).digest('base64url');
  assert.deepEqual(codec.open(`${notJson}.${mac}`), { ok: false, reason: 'malformed' });
});

test('link tokens: the codec writes byte-identical tokens and opens those LinkSigner wrote', () => {
  const signer = new LinkSigner(secret);
  const codec = new SignedBlobCodec(secret, 'callvault media link v1', 1024);
  const c = { linkId: randomUUID(), recordingId: randomUUID(), tenant: 'acme', issuer: signer.issuerTag('sam'), expiresAt: 1_800_000_000_000 };
  const token = signer.sign(c);
  assert.equal(codec.seal({ v: 1, l: c.linkId, r: c.recordingId, t: c.tenant, s: c.issuer, e: c.expiresAt }), token);
  assert.deepEqual(codec.open(token), { ok: true, value: { v: 1, l: c.linkId, r: c.recordingId, t: c.tenant, s: c.issuer, e: c.expiresAt } });
});

test('search cursors: the codec with the query as binding writes byte-identical cursors', () => {
  const cursors = new CursorCodec(secret);
  const codec = new SignedBlobCodec(secret, 'callvault recordings cursor v1', 1024);
  const scope: CursorScope = { tenant: 'acme', agentScope: null, filters: {} };
  const position = { sortKey: '2026-01-02 03:04:05.123+00', id: randomUUID() };
  const binding = JSON.stringify([scope.tenant, scope.agentScope, auditFilters(scope.filters)]);
  const cursor = cursors.encode(position, scope);
  assert.equal(codec.seal({ k: position.sortKey, i: position.id }, binding), cursor);
  assert.deepEqual(cursors.decode(codec.seal({ k: position.sortKey, i: position.id }, binding), scope), position);
});
