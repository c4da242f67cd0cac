import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditRows, issueLink, play, tinyWav, upload, type IssuedLink, type Receipt } from './support.js';

/**
 * Who may use a playback response, decided from Fetch Metadata and Origin before a link is
 * spent: pages on MEDIA_EMBED_ORIGINS get CORS, other pages are refused (403, audited denied,
 * single-use link left unused), and clients without fetch metadata keep working.
 */
const CRM = 'https://crm.example.com';
const STRANGER = 'https://stranger.example.net';

const cors = (origin: string, site = 'cross-site'): Record<string, string> => ({
  origin, 'sec-fetch-site': site, 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'audio',
});
const fetchMeta = (site: string, mode: string, dest: string): Record<string, string> => ({
  'sec-fetch-site': site, 'sec-fetch-mode': mode, 'sec-fetch-dest': dest,
});

describe('embedding playback links in other pages', () => {
  let vault: TestVault;
  let sup: string;
  let recording: Receipt;
  const singleUse = (): Promise<IssuedLink> => issueLink(vault, sup, recording.id, { reason: 'embedded player', singleUse: true });

  before(async () => {
    vault = await startVault({ env: { MEDIA_EMBED_ORIGINS: `${CRM},http://localhost:3000` } });
    sup = await vault.token('supervisor');
    recording = await upload(vault, await vault.token('pbx'), 'embed-1', tinyWav(3, 2048));
  });
  after(async () => { await vault.close(); });

  test('a listed origin gets CORS and CORP cross-origin on its Range responses', async () => {
    const link = await singleUse();
    const res = await play(vault, link, { ...cors(CRM), range: 'bytes=100-' });
    assert.equal(res.status, 206);
    assert.equal(res.headers['access-control-allow-origin'], CRM);
    assert.equal(res.headers['cross-origin-resource-policy'], 'cross-origin');
    assert.match(String(res.headers.vary), /\bOrigin\b/);
    for (const h of ['Content-Range', 'Accept-Ranges', 'Content-Length']) assert.match(String(res.headers['access-control-expose-headers']), new RegExp(h));
    assert.equal(res.headers['access-control-allow-credentials'], undefined, 'links are credentials enough');
    const [read] = await auditRows(vault, { action: 'media.read', request_id: String(res.headers['x-request-id']) });
    assert.equal(read?.details.range, 'bytes=100-');
  });

  test('without a listed Origin the answer stays CORP same-origin, without CORS', async () => {
    const link = await singleUse();
    for (const headers of [{}, fetchMeta('same-origin', 'no-cors', 'audio'), fetchMeta('none', 'navigate', 'document')]) {
      const res = await play(vault, link, headers);
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin');
      assert.equal(res.headers['access-control-allow-origin'], undefined);
      assert.match(String(res.headers.vary), /\bOrigin\b/);
    }
  });

  const refused: Array<[string, Record<string, string>]> = [
    ['<audio crossorigin> on an unlisted origin', cors(STRANGER)],
    ['<audio crossorigin> on an unlisted sibling origin', cors('https://other.example.com', 'same-site')],
    ['<audio> without crossorigin on any other origin', fetchMeta('cross-site', 'no-cors', 'audio')],
    ['<audio> without crossorigin on a listed page (no Origin is sent)', fetchMeta('cross-site', 'no-cors', 'audio')],
    ['an iframe on another site', fetchMeta('cross-site', 'navigate', 'iframe')],
    ['a browser without fetch metadata on an unlisted origin', { origin: STRANGER }],
    ['a sandboxed page (Origin: null)', cors('null')],
  ];
  for (const [what, headers] of refused) {
    test(`refused before the link is used: ${what}`, async () => {
      const link = await singleUse();
      const res = await play(vault, link, { ...headers, range: 'bytes=0-99' });
      assert.equal(res.status, 403);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().code, 'link_origin_refused');
      assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin');
      const [denied] = await auditRows(vault, { action: 'auth.denied', request_id: String(res.headers['x-request-id']) });
      assert.equal(denied?.outcome, 'denied');
      assert.equal(denied?.link_id, link.linkId);
      assert.equal(denied?.details.reason, 'link_origin_refused');
      assert.deepEqual(denied?.details.fetch, {
        origin: headers.origin ?? null, site: headers['sec-fetch-site'] ?? null, mode: headers['sec-fetch-mode'] ?? null, dest: headers['sec-fetch-dest'] ?? null,
      }, 'what the browser said is kept for the security team');
      assert.deepEqual(await auditRows(vault, { action: 'media.read', link_id: link.linkId }), []);
      const [row] = await vault.deps.db('links').where({ id: link.linkId });
      assert.equal(row.first_used_at, null, 'the single-use link is still unused');
      assert.equal((await play(vault, link, { 'user-agent': 'another-player/1' })).status, 200, 'and any client may still redeem it');
    });
  }

  test('served: direct opening, a link clicked on another site, curl, and the vault\'s own origin', async () => {
    const cases: Array<Record<string, string>> = [
      fetchMeta('none', 'navigate', 'document'),
      fetchMeta('cross-site', 'navigate', 'document'),
      fetchMeta('same-origin', 'no-cors', 'video'),
      { 'user-agent': 'curl/8.5.0' },
      { origin: `https://127.0.0.1:${vault.server.port}` },
      { origin: 'http://localhost:3000', ...fetchMeta('cross-site', 'cors', 'empty') },
    ];
    for (const headers of cases) {
      const link = await singleUse();
      assert.equal((await play(vault, link, headers)).status, 200, JSON.stringify(headers));
    }
  });

  test('a refusal of a listed page carries CORS, so its script can read the problem', async () => {
    const link = await singleUse();
    assert.equal((await play(vault, link, { 'user-agent': 'first' })).status, 200);
    const res = await play(vault, link, { ...cors(CRM), 'user-agent': 'second' });
    assert.equal(res.status, 403);
    assert.equal(res.json().code, 'link_used');
    assert.equal(res.headers['access-control-allow-origin'], CRM);
  });
});
