import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { call, tinyWav, upload } from '../access/support.js';
import { axeCheck, startConsole, type ConsoleHarness, type SignedInPage } from './console-support.js';
import { auditEvents, longStereoCall, STEREO_BYTES_PER_SECOND } from './review-support.js';

/**
 * The review console in Chromium: a supervisor searches, opens a call, listens with a reason,
 * seeks and changes speed, and the audit read back through the API holds the reason and the
 * ranges; an agent sees only their own calls; saved searches round-trip through the vault;
 * downloads appear only once the tenant allows them and are audited apart from plays.
 */
const IMG = path.resolve(import.meta.dirname, '../../docs/img');
const REASON = 'QA review of ticket 4411';

/** The few DOM pieces the in-page functions read (the project compiles without the DOM library). */
interface InPage {
  readonly document: { querySelector(s: string): { currentTime: number; duration: number; playbackRate: number; paused: boolean } | null };
}
const audioState = (page: Page) => page.evaluate(() => {
  const el = (globalThis as unknown as InPage).document.querySelector('audio');
  return { currentTime: el?.currentTime ?? NaN, duration: el?.duration ?? NaN, playbackRate: el?.playbackRate ?? NaN, paused: el?.paused ?? true };
});
const waitForTime = (page: Page, past: number) => page.waitForFunction(
  (t) => ((globalThis as unknown as InPage).document.querySelector('audio')?.currentTime ?? 0) > t, past, { timeout: 30_000 });
const ready = (page: Page) => page.waitForSelector('#app[data-ready="true"]');

async function assertClean(s: SignedInPage): Promise<void> {
  assert.deepEqual(s.problems.all(), []);
  assert.deepEqual(await axeCheck(s.page), []);
}

describe('the review console', () => {
  let h: ConsoleHarness;
  let stereoId: string;
  let stereoSeconds: number;
  let otherAgentsId: string;

  before(async () => {
    h = await startConsole();
    const pbx = await h.vault.token('pbx');
    const call1 = await longStereoCall(20);
    stereoSeconds = call1.seconds;
    stereoId = (await upload(h.vault, pbx, 'cr-stereo-1', call1.body, {
      agentId: 'agent-7', direction: 'inbound', from: '+14155550100', to: '+14155550199', tags: 'vip,billing',
      startedAt: '2026-11-30T09:15:00Z', durationSeconds: String(Math.round(stereoSeconds)),
    })).id;
    await upload(h.vault, pbx, 'cr-mono-2', tinyWav(2, 8000), { agentId: 'agent-7', direction: 'outbound', tags: 'billing', startedAt: '2026-11-29T10:00:00Z' });
    otherAgentsId = (await upload(h.vault, pbx, 'cr-mono-3', tinyWav(3, 8000), {
      agentId: 'agent-8', direction: 'inbound', tags: 'vip', startedAt: '2026-11-28T11:00:00Z',
    })).id;
  });
  after(async () => { await h?.close(); });

  test('search pages through the API cursor, forward and back', async () => {
    const pbx = await h.vault.token('pbx');
    for (let i = 0; i < 26; i++) {
      await upload(h.vault, pbx, `cr-bulk-${i}`, tinyWav(100 + i), { agentId: 'agent-9', tags: 'bulk', startedAt: new Date(Date.UTC(2026, 10, 1, 8, i)).toISOString() });
    }
    const s = await h.openConsole({ role: 'supervisor', sub: 'sup-4' }, '/console/recordings?tags=bulk&limit=25');
    const { page } = s;
    const callIds = () => page.locator('table.recordings tbody tr td:nth-child(2)').allTextContents();
    try {
      await ready(page);
      const first = await callIds();
      assert.equal(first.length, 25);
      assert.equal(first[0], 'cr-bulk-25');
      assert.equal(await page.locator('button:text("Previous page")').count(), 0);
      await page.click('button:text("Next page")');
      await page.waitForSelector('text=Page 2: 1 recordings.');
      assert.deepEqual(await callIds(), ['cr-bulk-0']);
      assert.equal(await page.locator('button:text("Next page")').count(), 0);
      await page.click('button:text("Previous page")');
      await page.waitForSelector('text=Page 1: 25 recordings.');
      assert.deepEqual(await callIds(), first);
      await assertClean(s);
    } finally {
      await s.close();
    }
  });

  test('supervisor: search, open, listen with a reason, seek to 50 %, change speed; the audit has the reason and the ranges', async (t) => {
    const s = await h.openConsole({ role: 'supervisor', sub: 'sup-1' });
    const { page } = s;
    const sensitive: Array<{ kind: string; cacheControl: string | undefined }> = [];
    page.on('response', (res) => {
      const { pathname } = new URL(res.url());
      const kind = pathname.startsWith('/media/') ? 'media' : pathname.endsWith('/peaks') ? 'peaks' : null;
      if (kind) sensitive.push({ kind, cacheControl: res.headers()['cache-control'] });
    });
    try {
      await page.setViewportSize({ width: 1280, height: 900 });
      const started = Date.now();
      await page.goto(`${h.vault.url}/console/recordings`);
      await ready(page);
      const wall = Date.now() - started;
      const mark = await page.evaluate(() => (globalThis as unknown as { performance: { getEntriesByName(n: string): Array<{ startTime: number }> } })
        .performance.getEntriesByName('console-search-interactive')[0]?.startTime ?? NaN);
      t.diagnostic(`search page interactive: ${Math.round(mark)} ms after navigation start (performance mark), ${wall} ms goto-to-ready`);

      await page.fill('#f-tags', 'vip');
      await page.selectOption('#f-direction', 'inbound');
      await page.click('form.filters button[type="submit"]');
      await page.waitForSelector('text=Page 1: 2 recordings.');
      assert.deepEqual(await page.locator('table.recordings tbody tr td:nth-child(2)').allTextContents(), ['cr-stereo-1', 'cr-mono-3']);
      assert.match(page.url(), /\?direction=inbound&tags=vip$/);
      await assertClean(s);
      await page.screenshot({ path: path.join(IMG, 'console-search.png'), fullPage: true });

      await Promise.all([page.waitForURL(`**/console/recordings/${stereoId}`), page.click('text=cr-stereo-1')]);
      await ready(page);
      assert.equal(await page.locator('text=Download').count(), 0, 'downloads are off by default');
      for (const fact of ['agent-7', '+14155550100', '+14155550199', 'vip, billing', 'Not on hold']) {
        assert.equal(await page.locator('.facts dd', { hasText: fact }).count() > 0, true, fact);
      }
      await page.click('button:text("Listen")');
      assert.equal(await page.locator('audio').count(), 0, 'no link without a reason');
      await page.fill('#listen-reason', REASON);
      await page.click('button:text("Listen")');
      await page.waitForSelector('.player audio', { state: 'attached' });
      await page.click('.player-play');
      await waitForTime(page, 0.3);

      // Stereo: the agent's and the customer's lanes, each with its own volume.
      await page.waitForSelector('.wave-label:text("Customer")');
      assert.deepEqual(await page.locator('.wave-label').allTextContents(), ['Agent', 'Customer']);
      assert.deepEqual(await page.locator('.player-volumes label').allTextContents(), ['Agent volume', 'Customer volume']);
      await page.locator('#player-volume-1').fill('0');
      assert.equal(await page.inputValue('#player-volume-1'), '0');
      const lane = page.locator('canvas.wave-lane').first();
      const box = await lane.boundingBox();
      assert.ok(box);
      await lane.click({ position: { x: box.width / 2, y: box.height / 2 } });
      await waitForTime(page, stereoSeconds / 2 + 0.3);
      const afterSeek = await audioState(page);
      assert.ok(Math.abs(afterSeek.duration - stereoSeconds) < 1, `duration ${afterSeek.duration}`);
      assert.ok(afterSeek.currentTime < stereoSeconds / 2 + 5, `currentTime ${afterSeek.currentTime}`);

      await page.selectOption('#player-speed', '1.5');
      assert.equal((await audioState(page)).playbackRate, 1.5);
      await page.locator('.waveform').focus();
      await page.keyboard.press(']');
      assert.equal((await audioState(page)).playbackRate, 1.75);
      await page.keyboard.press('[');
      await page.keyboard.press('[');
      assert.equal((await audioState(page)).playbackRate, 1.25);
      const beforeBack = (await audioState(page)).currentTime;
      await page.keyboard.press('ArrowLeft');
      assert.ok((await audioState(page)).currentTime < beforeBack - 8);
      await page.keyboard.press('Space');
      await page.waitForFunction(() => (globalThis as unknown as InPage).document.querySelector('audio')?.paused === true);

      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(IMG, 'console-player.png'), fullPage: true });
      await assertClean(s);

      const issued = await auditEvents(h.vault, { action: 'link.issued', recordingId: stereoId });
      assert.equal(issued.length, 1);
      assert.equal(issued[0]?.details.reason, REASON);
      assert.equal(issued[0]?.actorSub, 'sup-1');
      const reads = await auditEvents(h.vault, { action: 'media.read', recordingId: stereoId });
      assert.ok(reads.every((r) => r.linkId === issued[0]?.linkId));
      const middle = (stereoSeconds / 2) * STEREO_BYTES_PER_SECOND;
      assert.ok(reads.some((r) => typeof r.details.range === 'string' && Number(r.details.start) > middle - 2_000_000 && Number(r.details.start) <= middle + 64_000),
        `a range request near the middle: ${reads.map((r) => String(r.details.range)).join(', ')}`);

      // Audio and peaks came only as no-store answers...
      assert.deepEqual([...new Set(sensitive.map((r) => r.kind))].sort(), ['media', 'peaks']);
      assert.deepEqual(sensitive.filter((r) => r.cacheControl !== 'no-store'), []);
      // ...and nothing but the reason is kept by the browser: no audio, no peaks, no link, no service worker.
      const stored = await page.evaluate(async () => {
        const g = globalThis as unknown as {
          sessionStorage: { length: number; key(i: number): string | null; getItem(k: string): string | null };
          localStorage: { length: number }; caches: { keys(): Promise<string[]> };
          navigator: { serviceWorker: { getRegistrations(): Promise<unknown[]> } };
        };
        const session: Record<string, string | null> = {};
        for (let i = 0; i < g.sessionStorage.length; i++) {
          const k = g.sessionStorage.key(i);
          if (k !== null) session[k] = g.sessionStorage.getItem(k);
        }
        return { session, local: g.localStorage.length, caches: await g.caches.keys(), workers: (await g.navigator.serviceWorker.getRegistrations()).length };
      });
      assert.deepEqual(stored, { session: { [`callvault.reason.${stereoId}`]: REASON }, local: 0, caches: [], workers: 0 });

      // The reason is remembered for this recording, and #t= starts the player there.
      await page.goto('about:blank');
      await page.goto(`${h.vault.url}/console/recordings/${stereoId}#t=90`);
      await ready(page);
      assert.equal(await page.locator('audio').count(), 0);
      assert.equal(await page.inputValue('#listen-reason'), REASON);
      await page.click('button:text("Listen")');
      await page.waitForSelector('.player audio', { state: 'attached' });
      await page.waitForFunction(() => Math.abs(((globalThis as unknown as InPage).document.querySelector('audio')?.currentTime ?? 0) - 90) < 1);
      const second = await auditEvents(h.vault, { action: 'link.issued', recordingId: stereoId });
      assert.equal(second.length, 2);
      assert.equal(second[1]?.details.reason, REASON);
      assert.deepEqual(s.problems.all(), []);
    } finally {
      await s.close();
    }
  });

  test('agent: sees only their own recordings, in search and by address', async () => {
    const s = await h.openConsole({ role: 'agent', sub: 'agent-7' }, '/console/recordings');
    const { page } = s;
    try {
      await ready(page);
      assert.equal(await page.textContent('h1'), 'My recordings');
      assert.deepEqual((await page.locator('table.recordings tbody tr td:nth-child(2)').allTextContents()).sort(), ['cr-mono-2', 'cr-stereo-1']);
      await assertClean(s);
      await page.goto(`${h.vault.url}/console/recordings/${stereoId}`);
      await ready(page);
      assert.equal(await page.locator('#listen-reason').count(), 0, 'agents do not issue links');
      await assertClean(s);
      await page.goto(`${h.vault.url}/console/recordings/${otherAgentsId}`);
      await ready(page);
      assert.equal(await page.textContent('[role="alert"]'), 'There is no such recording, or it is not yours to see.');
      // The API's 404 is the browser's only complaint.
      assert.deepEqual(s.problems.all(), ['console: Failed to load resource: the server responded with a status of 404 (Not Found)']);
    } finally {
      await s.close();
    }
  });

  test('compliance: the recording page, without listening, leads to its access history', async () => {
    const s = await h.openConsole({ role: 'compliance', sub: 'co-1' }, `/console/recordings/${stereoId}`);
    const { page } = s;
    try {
      await ready(page);
      assert.equal(await page.locator('#listen-reason').count(), 0);
      assert.equal(await page.getAttribute('a:text("Who accessed this recording")', 'href'), `/console/access-history?recording=${stereoId}`);
      await assertClean(s);
    } finally {
      await s.close();
    }
  });

  test('a saved search round-trips through the vault', async () => {
    const s = await h.openConsole({ role: 'supervisor', sub: 'sup-2' }, '/console/recordings');
    const { page } = s;
    try {
      await ready(page);
      await page.fill('#f-tags', 'billing');
      await page.selectOption('#f-direction', 'outbound');
      await page.fill('#save-name', 'Outbound billing');
      await page.click('form.save-search button[type="submit"]');
      await page.waitForSelector('.saved-list button:text("Outbound billing")');
      const listed = await call(h.vault, { method: 'GET', path: '/v1/saved-searches', token: await h.vault.token('supervisor', { sub: 'sup-2' }) });
      assert.deepEqual(listed.json<{ items: Array<{ name: string; query: unknown }> }>().items.map((i) => [i.name, i.query]),
        [['Outbound billing', { tags: 'billing', direction: 'outbound' }]]);

      await page.goto(`${h.vault.url}/console/recordings`);
      await ready(page);
      assert.equal(await page.inputValue('#f-tags'), '');
      await page.click('.saved-list button:text("Outbound billing")');
      await page.waitForSelector('text=Page 1: 1 recordings.');
      assert.equal(await page.inputValue('#f-tags'), 'billing');
      assert.deepEqual(await page.locator('table.recordings tbody tr td:nth-child(2)').allTextContents(), ['cr-mono-2']);
      await assertClean(s);

      await page.click('button[aria-label="Delete saved search Outbound billing"]');
      await page.waitForSelector('text=No saved searches yet.');
      assert.deepEqual(s.problems.all(), []);
    } finally {
      await s.close();
    }
  });

  test('download: offered once the tenant allows the role, and audited as a download', async () => {
    const admin = await h.vault.token('admin', { sub: 'adm-1' });
    const put = await call(h.vault, {
      method: 'PUT', path: '/v1/download-settings', token: admin, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ roles: ['supervisor'] }),
    });
    assert.equal(put.status, 200);
    const s = await h.openConsole({ role: 'supervisor', sub: 'sup-3' }, `/console/recordings/${otherAgentsId}`);
    const { page } = s;
    try {
      await ready(page);
      await page.fill('#listen-reason', 'evidence for case 77');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:text("Download")')]);
      assert.match(download.suggestedFilename(), /\.wav$/);
      await download.path();
      const events = await auditEvents(h.vault, { recordingId: otherAgentsId });
      const actions = events.map((e) => e.action);
      assert.ok(actions.includes('download.issued') && actions.includes('media.downloaded'), actions.join(', '));
      assert.ok(!actions.includes('media.read') && !actions.includes('link.issued'), actions.join(', '));
      assert.equal(events.find((e) => e.action === 'download.issued')?.details.reason, 'evidence for case 77');
      assert.deepEqual(s.problems.all(), []);
    } finally {
      await s.close();
    }
  });
});

describe('the player outlives its link', () => {
  let h: ConsoleHarness;
  let id: string;
  let seconds: number;

  before(async () => {
    h = await startConsole({ env: { LINK_DEFAULT_TTL_SECONDS: '2' } });
    const call1 = await longStereoCall(20);
    seconds = call1.seconds;
    id = (await upload(h.vault, await h.vault.token('pbx'), 'cr-renew-1', call1.body)).id;
  });
  after(async () => { await h?.close(); });

  test('a seek after the link expired gets a new link with the same reason, and playback goes on there', async () => {
    const s = await h.openConsole({ role: 'supervisor', sub: 'sup-5' }, `/console/recordings/${id}`);
    const { page } = s;
    try {
      await ready(page);
      await page.fill('#listen-reason', REASON);
      await page.click('button:text("Listen")');
      await page.waitForSelector('.player audio', { state: 'attached' });
      await page.click('.player-play');
      await waitForTime(page, 0.3);
      const [first] = await auditEvents(h.vault, { action: 'link.issued', recordingId: id });
      // Past the link's two seconds, on the database clock the link is checked against.
      await page.waitForTimeout(2500);
      const lane = page.locator('canvas.wave-lane').first();
      const box = await lane.boundingBox();
      assert.ok(box);
      await lane.click({ position: { x: box.width * 0.8, y: box.height / 2 } });
      await waitForTime(page, seconds * 0.8 + 0.3);
      assert.ok((await audioState(page)).currentTime < seconds * 0.8 + 5);
      await page.waitForSelector('text=a new one was issued with the same reason');

      const issued = await auditEvents(h.vault, { action: 'link.issued', recordingId: id });
      assert.equal(issued.length, 2);
      assert.deepEqual(issued.map((e) => e.details.reason), [REASON, REASON]);
      const refused = await auditEvents(h.vault, { action: 'auth.denied' });
      assert.ok(refused.some((e) => e.linkId === first?.linkId && e.details.reason === 'link_expired'));
      const reads = await auditEvents(h.vault, { action: 'media.read', recordingId: id });
      assert.ok(reads.some((r) => r.linkId === issued[1]?.linkId && Number(r.details.start) > seconds * 0.7 * STEREO_BYTES_PER_SECOND));
      // The refused Range request of the expired link is the browser's only complaint.
      assert.deepEqual(s.problems.all(), ['console: Failed to load resource: the server responded with a status of 403 (Forbidden)']);
    } finally {
      await s.close();
    }
  });

  test('listening again replaces the player and its activity report: reports do not pile up', async () => {
    const s = await h.openConsole({ role: 'supervisor', sub: 'sup-6' });
    const { page } = s;
    type Reports = { created: number; live: Set<number> };
    type Timers = {
      setInterval(fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]): number;
      clearInterval(id?: number): void;
      listeningReports?: Reports;
    };
    try {
      // Counts the intervals of the player's activity report (LISTENING_REPORT_MS in player.js) that are still set.
      await page.addInitScript((reportMs) => {
        const w = globalThis as unknown as Timers;
        const reports: Reports = { created: 0, live: new Set() };
        w.listeningReports = reports;
        const set = w.setInterval.bind(w);
        const clear = w.clearInterval.bind(w);
        w.setInterval = (fn, ms, ...args) => {
          const handle = set(fn, ms, ...args);
          if (ms === reportMs) { reports.created++; reports.live.add(handle); }
          return handle;
        };
        w.clearInterval = (handle) => {
          if (handle !== undefined) reports.live.delete(handle);
          clear(handle);
        };
      }, 60_000);
      await page.goto(`${h.vault.url}/console/recordings/${id}`);
      await ready(page);
      await page.fill('#listen-reason', REASON);
      for (let players = 1; players <= 3; players++) {
        await page.click('button:text("Listen")');
        await page.waitForFunction((n) => ((globalThis as unknown as Timers).listeningReports?.created ?? 0) >= n, players);
      }
      assert.equal(await page.evaluate(() => (globalThis as unknown as Timers).listeningReports?.live.size), 1);
    } finally {
      await s.close();
    }
  });
});
