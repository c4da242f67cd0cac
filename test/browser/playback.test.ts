import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { auditRows, issueLink, mediaPath, upload, type IssuedLink } from '../access/support.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { expectMediaError, launchBrowser, playUntil, seekAndPlay, startPageServer, toneWav, type Browser, type PageServer } from './support.js';

/**
 * Playback links in Chromium: opened directly, embedded in a page of an allowed origin, and
 * embedded in a page of an origin the vault does not list.
 */
interface RequestLine { msg: string; url: string; status: number; requestId: string }

const SECONDS = 600;

describe('playback in a browser', () => {
  let vault: TestVault;
  let browser: Browser;
  let crm: PageServer;
  let stranger: PageServer;
  let recordingId: string;
  const logLines: string[] = [];

  const mediaRequests = (): RequestLine[] =>
    logLines.map((l) => JSON.parse(l) as RequestLine).filter((l) => l.msg === 'request' && l.url === '/media/[redacted]');
  const singleUse = async (): Promise<IssuedLink> =>
    issueLink(vault, await vault.token('supervisor'), recordingId, { reason: 'browser playback', singleUse: true, ttlSeconds: 600 });
  const urlOf = (link: IssuedLink): string => new URL(mediaPath(link), vault.url).href;
  const withPage = async <T>(fn: (page: Page) => Promise<T>): Promise<T> => {
    const page = await browser.context.newPage();
    try {
      return await fn(page);
    } finally {
      await page.close();
    }
  };

  before(async () => {
    browser = await launchBrowser();
    crm = await startPageServer();
    stranger = await startPageServer();
    vault = await startVault({ logLines, env: { MEDIA_EMBED_ORIGINS: crm.origin } });
    const tone = toneWav(SECONDS);
    recordingId = (await upload(vault, await vault.token('pbx'), 'browser-tone', tone.body)).id;
  });
  after(async () => {
    await browser?.close();
    await vault?.close();
    await crm?.close();
    await stranger?.close();
  });

  test('a link opened directly plays, and seeking to the middle fetches that range', async () => {
    const link = await singleUse();
    const before = mediaRequests().length;
    const played = await withPage(async (page) => {
      await page.goto(urlOf(link));
      const start = await playUntil(page, 0.3);
      assert.ok(Math.abs(start.duration - SECONDS) < 1, `duration ${start.duration}`);
      return seekAndPlay(page, SECONDS / 2);
    });
    assert.ok(played.currentTime > SECONDS / 2, `currentTime ${played.currentTime}`);
    assert.equal(played.error, null);
    assert.ok(mediaRequests().slice(before).some((l) => l.status === 206), 'the vault logged a 206');
    const reads = await auditRows(vault, { action: 'media.read', link_id: link.linkId });
    const middle = (SECONDS / 2) * 16_000;
    assert.ok(reads.some((r) => Number(r.details.start) >= middle - 2_000_000 && Number(r.details.start) <= middle + 16_000),
      `a range request near the middle: ${reads.map((r) => String(r.details.range)).join(', ')}`);
  });

  test('<audio crossorigin> on a page of an allowed origin plays', async () => {
    const link = await singleUse();
    const headers: Array<Record<string, string>> = [];
    const played = await withPage(async (page) => {
      page.on('response', (res) => { if (res.url().includes('/media/')) headers.push(res.headers()); });
      await page.goto(`${crm.origin}/`);
      return playUntil(page, 0.5, urlOf(link));
    });
    assert.ok(played.currentTime > 0.5);
    assert.ok(headers.length > 0);
    for (const h of headers) {
      assert.equal(h['access-control-allow-origin'], crm.origin);
      assert.equal(h['cross-origin-resource-policy'], 'cross-origin');
    }
    const [read] = await auditRows(vault, { action: 'media.read', link_id: link.linkId });
    assert.ok(read, 'the playback is audited');
  });

  test('the same page on an unlisted origin is refused before the link is used; the link then plays from the vault', async () => {
    const link = await singleUse();
    const before = mediaRequests().length;
    const error = await withPage(async (page) => {
      await page.goto(`${stranger.origin}/`);
      return expectMediaError(page, urlOf(link));
    });
    assert.ok(error > 0, `media error ${error}`);
    const refused = mediaRequests().slice(before);
    assert.ok(refused.length > 0 && refused.every((l) => l.status === 403), `statuses ${refused.map((l) => l.status).join(', ')}`);
    const denied = await auditRows(vault, { action: 'auth.denied', link_id: link.linkId });
    assert.ok(denied.length > 0 && denied.every((d) => d.outcome === 'denied' && d.details.reason === 'link_origin_refused'));
    assert.deepEqual(await auditRows(vault, { action: 'media.read', link_id: link.linkId }), []);
    const [row] = await vault.deps.db('links').where({ id: link.linkId });
    assert.equal(row.first_used_at, null, 'the single-use link is unused');

    const played = await withPage(async (page) => {
      await page.goto(urlOf(link));
      return playUntil(page, 0.5);
    });
    assert.ok(played.currentTime > 0.5);
    assert.ok((await auditRows(vault, { action: 'media.read', link_id: link.linkId })).length > 0);
  });
});
