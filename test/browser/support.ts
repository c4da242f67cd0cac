/**
 * A real browser for playback checks: Debian's Chromium driven by playwright-core, headless,
 * in a fresh profile, trusting the vault's self-signed certificate. Audio output is muted (a
 * headless machine has no sound card); playback is observed through `currentTime`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { wavHeader } from '../access/support.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--mute-audio', '--autoplay-policy=no-user-gesture-required',
];

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Fails, never skips, when Chromium is missing: the browser checks are part of the suite. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), 'callvault-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, ignoreHTTPSErrors: true,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export interface PageServer {
  readonly origin: string;
  close(): Promise<void>;
}

/** A second web origin (plain HTTP on 127.0.0.1, its own port) serving one empty page, like a CRM. */
export async function startPageServer(): Promise<PageServer> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>CRM</title><body></body>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A 16-bit mono 8 kHz WAV of a 440 Hz tone, generated as it streams. */
export function toneWav(seconds: number): { body: Readable; size: number } {
  const dataBytes = seconds * 8000 * 2;
  const header = wavHeader(dataBytes, { format: 1, channels: 1, rate: 8000, bits: 16 });
  let sample = 0;
  const total = dataBytes / 2;
  const body = Readable.from((function* () {
    yield header;
    while (sample < total) {
      const n = Math.min(32_768, total - sample);
      const chunk = Buffer.alloc(n * 2);
      for (let i = 0; i < n; i++, sample++) chunk.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * sample) / 8000)), i * 2);
      yield chunk;
    }
  })());
  return { body, size: header.length + dataBytes };
}

/** The few DOM pieces the in-page functions use (the project compiles without the DOM library). */
interface MediaElement {
  currentTime: number; readonly duration: number; muted: boolean; crossOrigin: string | null; src: string;
  readonly error: { readonly code: number } | null;
  play(): Promise<void>;
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
}
interface InPage {
  readonly document: {
    querySelector(selector: string): MediaElement | null;
    createElement(tag: 'audio'): MediaElement;
    readonly body: { append(node: MediaElement): void };
  };
}

export interface Playback { readonly duration: number; readonly currentTime: number; readonly error: number | null }

/**
 * Starts the page's media element (the one Chromium builds for a directly opened link, or an
 * `<audio crossorigin>` this adds for `src`) and waits until it has played past `until` seconds.
 */
export async function playUntil(page: Page, until: number, src?: string): Promise<Playback> {
  await page.evaluate(async (url) => {
    let el = (globalThis as unknown as InPage).document.querySelector('video, audio');
    if (url) {
      el = (globalThis as unknown as InPage).document.createElement('audio');
      el.crossOrigin = 'anonymous';
      el.src = url;
      (globalThis as unknown as InPage).document.body.append(el);
    }
    if (!el) throw new Error('no media element on the page');
    el.muted = true;
    await el.play();
  }, src ?? null);
  await page.waitForFunction((t) => ((globalThis as unknown as InPage).document.querySelector('video, audio')?.currentTime ?? 0) > t, until, { timeout: 30_000 });
  return state(page);
}

/** Seeks to `to` seconds and waits until playback has advanced half a second past it. */
export async function seekAndPlay(page: Page, to: number): Promise<Playback> {
  await page.evaluate(async (t) => {
    const el = (globalThis as unknown as InPage).document.querySelector('video, audio');
    if (!el) throw new Error('no media element on the page');
    const seeked = new Promise<void>((resolve) => el.addEventListener('seeked', () => resolve(), { once: true }));
    el.currentTime = t;
    await seeked;
  }, to);
  await page.waitForFunction((t) => ((globalThis as unknown as InPage).document.querySelector('video, audio')?.currentTime ?? 0) > t + 0.5, to, { timeout: 30_000 });
  return state(page);
}

/** Adds `<audio crossorigin>` for `src` and waits for the media error the refusal causes. */
export async function expectMediaError(page: Page, src: string): Promise<number> {
  return page.evaluate((url) => new Promise<number>((resolve, reject) => {
    const el = (globalThis as unknown as InPage).document.createElement('audio');
    el.crossOrigin = 'anonymous';
    el.addEventListener('error', () => resolve(el.error?.code ?? 0), { once: true });
    el.addEventListener('playing', () => reject(new Error('the refused link played')), { once: true });
    el.src = url;
    (globalThis as unknown as InPage).document.body.append(el);
    el.play().catch(() => undefined);
  }), src);
}

function state(page: Page): Promise<Playback> {
  return page.evaluate(() => {
    const el = (globalThis as unknown as InPage).document.querySelector('video, audio');
    return { duration: el?.duration ?? NaN, currentTime: el?.currentTime ?? NaN, error: el?.error?.code ?? null };
  });
}
