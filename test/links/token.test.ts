import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkSigner } from '../../src/links/token.js';

/**
 * Links already handed out must keep working: the token format, the issuer tag and the client
 * fingerprint are pinned to values produced by the first release of the format.
 */
const SECRET = Buffer.alloc(32, 7);
const CLAIMS = {
  linkId: '3f0c2a8e-5b1d-4c6e-9a7f-1e2d3c4b5a69', recordingId: '9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', tenant: 'acme',
  issuer: 'r5_HlAcNIOu6tcpO', expiresAt: 1772366400000,
};
const TOKEN = 'eyJ2IjoxLCJsIjoiM2YwYzJhOGUtNWIxZC00YzZlLTlhN2YtMWUyZDNjNGI1YTY5IiwiciI6IjliOGE3YzZkLTVlNGYtNGEzYi04YzJkLTFlMGY5YThiN2M2ZCIs'
  + 'InQiOiJhY21lIiwicyI6InI1X0hsQWNOSU91NnRjcE8iLCJlIjoxNzcyMzY2NDAwMDAwfQ.7wPPTg5AnsuCcgYadakp29ghIL_7almGef3O2OrApJo';

describe('link token format', () => {
  test('signing is byte-identical to the first release, and its tokens verify', () => {
    const signer = new LinkSigner(SECRET);
    assert.equal(signer.issuerTag('sup-7'), CLAIMS.issuer);
    assert.equal(signer.sign(CLAIMS), TOKEN);
    assert.deepEqual(signer.verify(TOKEN), { ok: true, claims: CLAIMS });
  });

  test('the client fingerprint of single-use links is unchanged', () => {
    assert.equal(new LinkSigner(SECRET).clientFingerprint('10.0.0.1', 'player-A'), '3b52dbff74e5eb675540e665ee1492cc');
  });

  test('another key, a changed byte or a wrong shape is refused', () => {
    assert.deepEqual(new LinkSigner(Buffer.alloc(32, 8)).verify(TOKEN), { ok: false, reason: 'bad_signature' });
    assert.deepEqual(new LinkSigner(SECRET).verify(`${TOKEN.slice(0, -1)}A`), { ok: false, reason: 'bad_signature' });
    assert.deepEqual(new LinkSigner(SECRET).verify(`${TOKEN}.x`), { ok: false, reason: 'malformed' });
    assert.deepEqual(new LinkSigner(SECRET).verify('x'.repeat(1025)), { ok: false, reason: 'malformed' });
  });
});
