import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { rolesGranting, type Role } from '../../src/auth/permissions.js';
import { CONSOLE_PAGES, HOME_PAGE } from '../../src/console/pages.js';
import { issueLink } from '../access/support.js';
import { json, putPolicy, upload } from '../retention/support.js';
import { axeCheck, startConsole, type AxeViolation, type ConsoleHarness, type SignedInPage } from './console-support.js';

/**
 * The XSS walk: recordings whose PBX metadata (callId, tags, numbers, agent id) and whose audit
 * trail (link reasons, hold reasons and case ids, policy descriptions) hold script and markup,
 * then every console page, for every role that may open it. Each page must record no dialog,
 * console error or CSP violation, carry no event-handler attribute anywhere in its DOM, and have
 * no serious or critical axe-core violation.
 */
const MARKUP = [
  '<img src=x onerror=alert(1)>', '<script>alert(2)</script>', '"><svg onload=alert(3)>', "'-alert(4)-'",
  '<iframe src=javascript:alert(5)>', '{{constructor.constructor(\'alert(6)\')()}}', '<a href=javascript:alert(7)>x</a>',
];
// callIds are limited to letters, digits and . _ : @ + = -: what is left is a URL scheme.
const CALL_IDS = ['javascript:alert', 'x=1@evil.example', 'data:text'];

interface PageVisit { readonly path: string; readonly role: Role | null }

interface Finding { readonly visit: string; readonly problems: string[]; readonly handlers: string[]; readonly axe: AxeViolation[]; readonly shown: number }

describe('console: script and markup from the PBX and the audit trail render inert on every page', () => {
  let h: ConsoleHarness;
  let recordingId = '';
  /** The agent's own recording (agents see no other), with the same markup in its metadata. */
  let agentRecordingId = '';
  before(async () => {
    h = await startConsole();
    for (const [i, callId] of CALL_IDS.entries()) {
      const r = await upload(h.vault, callId, {
        query: {
          tags: MARKUP.slice(0, 4).join(','), from: MARKUP[i % MARKUP.length] ?? '', to: MARKUP[(i + 4) % MARKUP.length] ?? '',
          agentId: MARKUP[(i + 1) % MARKUP.length] ?? '', direction: 'inbound',
        },
      });
      recordingId ||= r.id;
    }
    agentRecordingId = (await upload(h.vault, 'agent-own', {
      query: { tags: MARKUP.slice(3, 7).join(','), from: MARKUP[5] ?? '', to: MARKUP[6] ?? '', agentId: 'agent-x' },
    })).id;
    const supervisor = await h.vault.token('supervisor', { sub: MARKUP[0] });
    await issueLink(h.vault, supervisor, recordingId, { reason: MARKUP[1] });
    const compliance = await h.vault.token('compliance');
    assert.equal((await json(h.vault, 'PUT', `/v1/recordings/${recordingId}/legal-hold`, compliance, { reason: MARKUP[2], caseId: MARKUP[3] })).status, 200);
    await putPolicy(h.vault, 'xss-policy', 'P1D');
    assert.ok([200, 201].includes((await json(h.vault, 'PUT', '/v1/retention-policies/xss-policy', await h.vault.token('admin'), { retain: 'P1D', description: MARKUP[4] })).status));
  });
  after(async () => { await h?.close(); });

  /** Every page of the console, for every role granted it, with its route parameters filled. */
  function visits(): PageVisit[] {
    const out: PageVisit[] = [{ path: '/console/sign-in', role: null }];
    for (const role of ['agent', 'supervisor', 'compliance', 'admin'] as const) out.push({ path: `/console${HOME_PAGE.path}`, role });
    for (const page of CONSOLE_PAGES) {
      for (const role of rolesGranting(page.permission).filter((r) => r !== 'pbx')) {
        const id = role === 'agent' ? agentRecordingId : recordingId;
        const query = page.path === '/access-history' ? `?recording=${id}` : '';
        out.push({ path: `/console${page.path.replace(/:[A-Za-z]+/g, id)}${query}`, role });
      }
    }
    return out;
  }

  async function inspect(page: Page, visit: string, problems: () => string[]): Promise<Finding> {
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(300);
    const handlers = await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ tagName: string; attributes: ArrayLike<{ name: string }> }> } }).document;
      const found: string[] = [];
      for (const el of Array.from(doc.querySelectorAll('*'))) {
        for (const a of Array.from(el.attributes)) if (/^on/i.test(a.name)) found.push(`${el.tagName} ${a.name}`);
      }
      return found;
    });
    const text = await page.locator('body').innerText();
    const shown = MARKUP.filter((m) => text.includes(m)).length;
    return { visit, problems: problems(), handlers, axe: await axeCheck(page), shown };
  }

  test('every page, every role: zero dialogs, console errors and CSP violations; no handlers; axe clean', async () => {
    const findings: Finding[] = [];
    const sessions = new Map<Role, SignedInPage>();
    try {
      for (const v of visits()) {
        if (v.role === null) {
          const anon = await h.openAnonymous();
          try {
            await anon.page.goto(`${h.vault.url}${v.path}`);
            findings.push(await inspect(anon.page, `${v.path} (signed out)`, () => anon.problems.all()));
          } finally {
            await anon.close();
          }
          continue;
        }
        let s = sessions.get(v.role);
        if (!s) {
          s = await h.openConsole({ role: v.role, sub: `${v.role}-x` });
          sessions.set(v.role, s);
        }
        const session = s;
        const before = session.problems.all().length;
        const res = await session.page.goto(`${h.vault.url}${v.path}`);
        assert.equal(res?.status(), 200, `${v.path} as ${v.role}`);
        findings.push(await inspect(session.page, `${v.path} as ${v.role}`, () => session.problems.all().slice(before)));
      }
    } finally {
      for (const s of sessions.values()) await s.close();
    }
    const bad = findings.filter((f) => f.problems.length > 0 || f.handlers.length > 0 || f.axe.length > 0);
    assert.deepEqual(bad, [], 'every page behaves');
    assert.ok(findings.length >= 10, `walked ${findings.length} pages`);
    const showing = findings.filter((f) => f.shown > 0).map((f) => f.visit);
    for (const expected of ['/console/audit as compliance', `/console/legal-holds as compliance`, '/console/retention as admin']) {
      assert.ok(showing.includes(expected), `${expected} shows the payloads as text (showing: ${showing.join(', ')})`);
    }
  });
});
