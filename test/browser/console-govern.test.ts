import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { issueLink, play } from '../access/support.js';
import { auditEvents, json, putPolicy, row, superuser, upload } from '../retention/support.js';
import { startConsole, type ConsoleHarness, type SignedInPage } from './console-support.js';

/**
 * The compliance and admin walks of the console: a bulk hold by filter, exports, erasure by phone
 * after typed confirmation, a recording's access history; a policy change and the simulator.
 */
const DAY = 86_400_000;
const SCREENSHOT = path.resolve(import.meta.dirname, '../../docs/img/console-audit.png');

async function settled(page: Page, selector: string, kind = 'ok'): Promise<string> {
  const el = page.locator(`${selector}[data-kind="${kind}"]`);
  await el.waitFor();
  return (await el.textContent()) ?? '';
}

describe('console: compliance and admin', () => {
  let h: ConsoleHarness;
  const open: SignedInPage[] = [];
  const signIn = async (role: 'compliance' | 'admin', pathName: string): Promise<Page> => {
    const s = await h.openConsole({ role, sub: `${role}-7` }, pathName);
    s.page.on('response', (r) => { if (r.status() >= 400) process.stdout.write(`# ${pathName}: ${r.status()} ${r.url()}\n`); });
    open.push(s);
    return s.page;
  };

  // aws-kms (the KMS double): the tenant settings page can then give the tenant its own key.
  before(async () => { h = await startConsole({ keys: 'aws-kms' }); });
  after(async () => {
    const problems = open.flatMap((s) => s.problems.all());
    for (const s of open) await s.close();
    await h?.close();
    assert.deepEqual(problems, [], 'no console errors, dialogs or CSP violations on any page');
  });

  test('compliance sets a bulk hold by filter under a matter, and sees it grouped', async () => {
    const q1 = await upload(h.vault, 'matter-q-1', { query: { tags: 'matter-q,sales' } });
    const q2 = await upload(h.vault, 'matter-q-2', { query: { tags: 'matter-q' } });
    const other = await upload(h.vault, 'matter-r-1', { query: { tags: 'matter-r' } });
    const page = await signIn('compliance', '/console/legal-holds');
    const bulk = page.locator('form', { has: page.getByRole('button', { name: 'Hold every matching recording' }) });
    await bulk.getByLabel('Tags (all of, comma separated)').fill('matter-q');
    await bulk.getByLabel('Case id (matter)').fill('CASE-Q');
    await bulk.getByLabel('Reason').fill('preservation order 7');
    await bulk.getByRole('button', { name: 'Hold every matching recording' }).click();
    assert.match(await settled(page, '.status'), /Held 2 recording\(s\) under CASE-Q; 0 matching/);
    assert.equal((await row(h.vault, q1.id)).legal_hold, true);
    assert.equal((await row(h.vault, q2.id)).legal_hold, true);
    assert.equal((await row(h.vault, other.id)).legal_hold, false);
    const matter = page.getByRole('row', { name: /CASE-Q/ });
    await matter.waitFor();
    assert.match((await matter.textContent()) ?? '', /CASE-Q2/);
    await page.getByRole('button', { name: 'Recordings of CASE-Q' }).click();
    await page.getByRole('cell', { name: 'matter-q-2', exact: true }).waitFor();
    const [event] = (await auditEvents(h.vault, { action: 'legal_hold.set' })).filter((e) => e.details.caseId === 'CASE-Q');
    assert.deepEqual([event?.actor_sub, event?.details.bulk, event?.details.count], ['compliance-7', true, 2]);
  });

  test('compliance erases by phone number only after typing it again', async () => {
    const target = await upload(h.vault, 'erase-me', { query: { from: '+1 415 555 0142' } });
    const keep = await upload(h.vault, 'keep-me', { query: { from: '+1 415 555 0143' } });
    const page = await signIn('compliance', '/console/erasure');
    const form = page.locator('form', { has: page.getByRole('button', { name: 'Erase every recording of this number' }) });
    const button = form.getByRole('button', { name: 'Erase every recording of this number' });
    await form.getByLabel('Phone number', { exact: true }).fill('+1 415 555 0142');
    await form.getByLabel('Reason').fill('GDPR request 42');
    assert.equal(await button.isDisabled(), true, 'nothing typed to confirm');
    await form.getByLabel('Type the phone number again to confirm').fill('+1 415 555 0143');
    assert.equal(await button.isDisabled(), true, 'a different number does not confirm');
    await form.getByLabel('Type the phone number again to confirm').fill('+1 415 555 0142');
    assert.equal(await button.isDisabled(), false);
    await button.click();
    assert.match(await settled(page, '.status'), /Erased 1 recording\(s\)\./);
    assert.equal((await row(h.vault, target.id)).status, 'deleted');
    assert.equal((await row(h.vault, keep.id)).status, 'active');
  });

  test('compliance views a recording\'s access history: reasons and byte ranges, verified in the browser', async () => {
    const rec = await upload(h.vault, 'history-1');
    const link = await issueLink(h.vault, await h.vault.token('supervisor', { sub: 'sup-3' }), rec.id, { reason: 'QA review 12' });
    assert.equal((await play(h.vault, link, { range: 'bytes=0-99' })).status, 206);
    const page = await signIn('compliance', `/console/access-history?recording=${rec.id}`);
    const verified = await settled(page, '.verification');
    const rows = await page.locator('table.events tbody tr').count();
    assert.match(verified, new RegExp(`Verified in this browser: ${rows} event hash\\(es\\) recomputed`));
    assert.match(verified, new RegExp(`${rows} event\\(s\\) proven included in the checkpoint of \\S+/tenant/acme at size \\d+, whose Ed25519 signature verifies`));
    assert.match(verified, /no event about the recording is missing/);
    const issued = page.getByRole('row', { name: /link\.issued/ });
    assert.match((await issued.textContent()) ?? '', /sup-3 \(supervisor\).*QA review 12/);
    const read = page.getByRole('row', { name: /media\.read/ });
    assert.match((await read.textContent()) ?? '', /link issued by sup-3.*bytes 0–99/);
    assert.match((await page.locator('.summary').textContent()) ?? '', /1 link\(s\) issued, 1 read\(s\) of the audio/);

    // A failed reload leaves no "Verified" text beside an emptied table.
    await page.route('**/access-history?**', (route) => route.fulfill({
      status: 503, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Service unavailable', status: 503 }),
    }));
    await page.getByRole('button', { name: 'Show history' }).click();
    await page.locator('.status[data-kind="error"]').waitFor();
    assert.equal(await page.locator('table.events').count(), 0);
    assert.equal((await page.locator('.verification').textContent()) ?? '', '');
    assert.equal(await page.locator('.verification').getAttribute('data-verified'), null);
    // The refused request is logged by the browser itself: expected here, and only here.
    const errors = open[open.length - 1]?.problems.errors ?? [];
    const expected = errors.findIndex((e) => /status of 503/.test(e));
    assert.ok(expected >= 0, errors.join('\n'));
    errors.splice(expected, 1);
  });

  test('compliance browses the audit log, verified, and exports it as CSV and NDJSON', async () => {
    const page = await signIn('compliance', '/console/audit');
    assert.match(await settled(page, '.verification'), /proven included in the checkpoint of .* whose Ed25519 signature verifies .*; all match\./);
    await page.getByText(/event\(s\) on this page/).waitFor();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.getByLabel('Action').selectOption('legal_hold.set');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForFunction(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> } }).document;
      const cells = Array.from(doc.querySelectorAll('table.events tbody tr td:nth-child(4)'));
      return cells.length > 0 && cells.every((c) => c.textContent === 'legal_hold.set');
    });
    await page.getByRole('row', { name: /preservation order 7/ }).waitFor();
    for (const [name, format] of [['Export CSV', 'csv'], ['Export NDJSON', 'ndjson']] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name }).click()]);
      const file = await download.path();
      const text = await readFile(file, 'utf8');
      assert.equal(download.suggestedFilename(), `audit-events.${format}`);
      const lines = text.trimEnd().split(/\r?\n/);
      if (format === 'csv') assert.match(lines[0] ?? '', /^log,logSeq,seq,/);
      else assert.match(lines.pop() ?? '', /^\{"checkpoint":/, 'an NDJSON export ends with its signed checkpoint');
      const body = format === 'csv' ? lines.slice(1) : lines;
      assert.ok(body.length >= 1 && body.every((l) => l.includes('legal_hold.set')), `${format}: only the filtered action`);
    }
    const exports = (await auditEvents(h.vault, { action: 'audit.exported' })).filter((e) => e.actor_sub === 'compliance-7');
    assert.ok(exports.some((e) => e.details.format === 'csv' && e.details.action === 'legal_hold.set'));
    assert.ok(exports.some((e) => e.details.format === 'ndjson' && e.details.limit === undefined && e.details.action === 'legal_hold.set'));
  });

  test('an event edited in the database by a superuser is caught by the audit page in the browser', async () => {
    const su = await superuser(h.vault);
    try {
      await su.query(`SET session_replication_role = replica`);
      const { rowCount } = await su.query(`UPDATE audit_events SET details = jsonb_set(details, '{reason}', '"routine check"') WHERE action = 'link.issued' AND details->>'reason' = 'QA review 12'`);
      assert.equal(rowCount, 1);
    } finally {
      await su.end();
    }
    const page = await signIn('compliance', '/console/audit');
    assert.match(await settled(page, '.verification', 'error'), /^Verification FAILED at event \d+: its hash does not match its contents/);
  });

  test('admin changes a policy and sees what the simulator says it would delete', async () => {
    await putPolicy(h.vault, 'calls', 'P30D');
    const start = Math.floor(Date.now() / DAY) * DAY - DAY;
    for (const callId of ['sim-1', 'sim-2']) await upload(h.vault, callId, { query: { policy: 'calls', startedAt: new Date(start).toISOString() } });
    const page = await signIn('admin', '/console/retention');
    await page.getByRole('button', { name: 'Edit calls' }).click();
    const retain = page.getByLabel('Keep for (ISO-8601 duration)');
    assert.equal(await retain.inputValue(), 'P30D');
    await retain.fill('P7D');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Saved policy calls: keep for P7D.').waitFor();
    assert.equal((await json(h.vault, 'GET', '/v1/retention-policies', await h.vault.token('admin'))).json<{ items: Array<{ name: string; retain: string }> }>()
      .items.find((p) => p.name === 'calls')?.retain, 'P7D');
    const until = new Date(start + 31 * DAY).toISOString().slice(0, 10);
    await page.getByLabel('By date (UTC)').fill(until);
    await page.getByRole('button', { name: 'Simulate' }).click();
    await page.getByText(`By ${until}, retention would delete 2 recording(s) under policy calls; 0 due recording(s) are kept on legal hold.`).waitFor();
    await page.getByRole('row', { name: new Date(start + 30 * DAY).toISOString().slice(0, 10) }).waitFor();
    const sooner = new Date(start + 29 * DAY).toISOString().slice(0, 10);
    await page.getByLabel('By date (UTC)').fill(sooner);
    await page.getByRole('button', { name: 'Simulate' }).click();
    await page.getByText(`By ${sooner}, retention would delete 0 recording(s) under policy calls`).waitFor();
  });

  test('admin sets the tenant default policy and gives the tenant its own KMS key', async () => {
    const page = await signIn('admin', '/console/tenant');
    await page.getByLabel('Default retention policy').selectOption('calls');
    await page.getByRole('button', { name: 'Save default policy' }).click();
    await page.getByText('Uploads without a policy now get "calls".').waitFor();
    assert.equal((await json(h.vault, 'GET', '/v1/tenant-settings', await h.vault.token('admin'))).json<{ defaultPolicy: string }>().defaultPolicy, 'calls');
    const kms = h.vault.kms;
    assert.ok(kms);
    const key = kms.createKey();
    await page.getByLabel('KMS key id, ARN or alias').fill(key);
    await page.getByRole('button', { name: 'Use this KMS key' }).click();
    await page.getByText(`The tenant's KMS key is now ${key}`).waitFor();
    assert.equal((await h.vault.deps.tenants.get('acme')).kmsKeyId, key);
    await page.locator('.facts').getByText(key).waitFor();
    const [rotated] = (await auditEvents(h.vault, { action: 'keys.rotated' })).filter((e) => e.details.kmsKeyId === key);
    assert.equal(rotated?.actor_sub, 'admin-7');
  });

  test('admin chooses the roles that may download recordings, off for every role at first', async () => {
    const page = await signIn('admin', '/console/tenant');
    await page.getByText('Downloads are off for every role.').waitFor();
    const supervisors = page.getByLabel('Supervisors may download');
    assert.equal(await supervisors.isChecked(), false);
    await supervisors.check();
    await page.getByRole('button', { name: 'Save download roles' }).click();
    await page.getByText('Download links may be issued to: supervisor.').waitFor();
    const settings = async (): Promise<string[]> => (await json(h.vault, 'GET', '/v1/download-settings', await h.vault.token('admin'))).json<{ roles: string[] }>().roles;
    assert.deepEqual(await settings(), ['supervisor']);
    const [changed] = await auditEvents(h.vault, { action: 'download.settings_updated' });
    assert.equal(changed?.actor_sub, 'admin-7');
    await page.reload();
    // The page says what it loaded once the settings are in; only then are the boxes set.
    await page.getByText('Download links may be issued to: supervisor.').waitFor();
    assert.equal(await page.getByLabel('Supervisors may download').isChecked(), true, 'the page shows what is saved');
    await page.getByLabel('Supervisors may download').uncheck();
    await page.getByRole('button', { name: 'Save download roles' }).click();
    await page.getByText('Downloads are off for every role.').waitFor();
    assert.deepEqual(await settings(), []);
  });
});
