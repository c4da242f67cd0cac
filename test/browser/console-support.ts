/**
 * The console in a real browser: a vault from startVault(), Chromium (headless, one browser
 * context per signed-in user so cookies never mix), sign-in through the development form, and a
 * recorder of everything that must not happen on a console page: uncaught errors, console
 * errors, dialogs (alert/confirm/prompt, what an injected script would open) and CSP violations.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { chromium, type Browser as PwBrowser, type BrowserContext, type Page } from 'playwright-core';
import type { Role } from '../../src/auth/permissions.js';
import { startVault, type TestVault, type VaultOptions } from '../helpers/vault.js';
import { ARGS, CHROMIUM } from './support.js';

export interface Who {
  readonly role: Role;
  readonly tenant?: string;
  readonly sub?: string;
}

export interface PageProblems {
  readonly errors: string[];
  readonly dialogs: string[];
  readonly cspViolations: string[];
  /** Everything recorded, as one list (empty when the page behaved). */
  all(): string[];
}

export interface SignedInPage {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly problems: PageProblems;
  close(): Promise<void>;
}

export interface ConsoleHarness {
  readonly vault: TestVault;
  readonly browser: PwBrowser;
  /** A new browser context signed in through the development sign-in, on /console/ (or `path`). */
  openConsole(who: Who, path?: string): Promise<SignedInPage>;
  /** A new browser context with no session, recording problems like openConsole's. */
  openAnonymous(): Promise<SignedInPage>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<PwBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/**
 * Starts recording a page's problems. CSP violations are reported by the page's own
 * `securitypolicyviolation` event through an exposed binding (the listener is installed before
 * any of the page's scripts run, by the browser, not as an inline script).
 */
export async function recordProblems(context: BrowserContext, page: Page): Promise<PageProblems> {
  const errors: string[] = [];
  const dialogs: string[] = [];
  const cspViolations: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => undefined);
  });
  await context.exposeBinding('__callvaultCspViolation', (_source, text: string) => { cspViolations.push(text); });
  await context.addInitScript(() => {
    interface Violation { violatedDirective: string; blockedURI: string; sourceFile: string; lineNumber: number }
    const win = globalThis as unknown as {
      __callvaultCspViolation(text: string): void;
      addEventListener(type: 'securitypolicyviolation', listener: (event: Violation) => void): void;
    };
    const report = win.__callvaultCspViolation;
    win.addEventListener('securitypolicyviolation', (e) => {
      report(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return { errors, dialogs, cspViolations, all: () => [...errors, ...dialogs, ...cspViolations] };
}

async function newPage(browser: PwBrowser): Promise<SignedInPage> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const problems = await recordProblems(context, page);
  return { page, context, problems, close: () => context.close() };
}

/** Fills and submits the development sign-in form; resolves on the console's start page. */
export async function devSignIn(page: Page, base: string, who: Who): Promise<void> {
  await page.goto(`${base}/console/sign-in`);
  await page.fill('#tenant', who.tenant ?? 'acme');
  await page.selectOption('#role', who.role);
  await page.fill('#sub', who.sub ?? `${who.role}-1`);
  await Promise.all([page.waitForURL(`${base}/console/`), page.click('form[action="/console/sign-in"] button[type="submit"]')]);
}

export async function startConsole(opts: VaultOptions = {}): Promise<ConsoleHarness> {
  const browser = await launchChromium();
  let vault: TestVault;
  try {
    vault = await startVault(opts);
  } catch (err) {
    await browser.close();
    throw err;
  }
  return {
    vault, browser,
    openConsole: async (who, path) => {
      const signedIn = await newPage(browser);
      await devSignIn(signedIn.page, vault.url, who);
      if (path) await signedIn.page.goto(`${vault.url}${path}`);
      return signedIn;
    },
    openAnonymous: () => newPage(browser),
    close: async () => {
      await browser.close();
      await vault.close();
    },
  };
}

const require = createRequire(import.meta.url);
let axeSource: Promise<string> | undefined;

export interface AxeViolation { readonly id: string; readonly impact: string; readonly help: string; readonly targets: string[] }

/**
 * axe-core's serious and critical violations on the page as it is now. The page's CSP allows no
 * inline script, so axe is evaluated through the DevTools protocol (as page.evaluate is) rather
 * than added as a <script> element, which the CSP would block and report.
 */
export async function axeCheck(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  const source = await axeSource;
  await page.evaluate(source);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact ?? '', help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
}
