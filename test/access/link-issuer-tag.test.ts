import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { LinkSigner } from '../../src/links/token.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { issueLink, mediaPath, play, tinyWav, upload } from './support.js';

/**
 * A link URL carries a tag of its issuer's sub. A plain hash of the sub could be matched by
 * hashing a list of candidate subs (employee ids, e-mail addresses), so whoever sees a URL would
 * learn who shared it; the tag is an HMAC under a key derived from the link signing key.
 */
function payloadOf(path: string): Record<string, unknown> {
  const token = path.slice('/media/'.length);
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('issuer tag in link URLs', () => {
  let vault: TestVault;
  const sub = 'jane.doe@example.com';

  before(async () => { vault = await startVault(); });
  after(async () => { await vault.close(); });

  test('the tag in a URL is keyed: no hash of the sub alone produces it, and the link plays', async () => {
    const recording = await upload(vault, await vault.token('pbx'), 'issuer-tag-1', tinyWav(1));
    const link = await issueLink(vault, await vault.token('supervisor', { sub }), recording.id);
    const tag = payloadOf(mediaPath(link)).s;
    assert.equal(typeof tag, 'string');
    for (const unkeyed of [`link-issuer\n${sub}`, sub]) {
      for (const alg of ['sha256', 'sha1', 'md5']) {
        const digest = createHash(alg).update(unkeyed).digest();
        assert.notEqual(tag, digest.toString('base64url').slice(0, 16), `${alg} of the sub`);
        assert.notEqual(tag, digest.toString('hex').slice(0, 16), `${alg} of the sub (hex)`);
      }
    }
    assert.equal(tag, new LinkSigner(vault.deps.linkSigningKey).issuerTag(sub));
    assert.equal((await play(vault, link)).status, 200);
  });

  test('the same sub gets unrelated tags under different signing keys', () => {
    const a = new LinkSigner(randomBytes(32)).issuerTag(sub);
    const b = new LinkSigner(randomBytes(32)).issuerTag(sub);
    assert.notEqual(a, b);
    assert.match(a, /^[\w-]{16}$/);
  });
});
