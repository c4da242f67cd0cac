import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `callvault audit tail`: the tenant's log as NDJSON on stdout, one event per line, for a SIEM
 * shipper to read (docs/audit.md, "Forwarding to a SIEM"). Without --follow it prints the events
 * after `after` from an export and exits; with --follow it keeps the vault's follow stream open
 * and, when the connection drops, reconnects after the last logSeq it printed, so nothing is
 * skipped or repeated. The bearer token is read from a file, never from the command line.
 */

export interface VaultClient {
  /** Base URL of the vault, e.g. https://vault.example.com:8443. */
  readonly vault: string;
  readonly tokenFile: string;
  /** PEM of a CA to trust (the embedded mode's self-signed certificate). */
  readonly caFile?: string;
}

export interface TailRequest extends VaultClient {
  readonly after?: number;
  readonly follow?: boolean;
  /** Ends a --follow run (SIGINT/SIGTERM from the command line). */
  readonly signal?: AbortSignal;
  /**
   * Under --follow, how long the stream may bring nothing before it counts as dead and is
   * reconnected: the vault sends an empty line every 15 s while the log is quiet, so silence means
   * a connection that a proxy or NAT dropped without closing it.
   */
  readonly stalledAfterMs?: number;
}

const STALLED_AFTER_MS = 45_000;

/** One authenticated GET; resolves with the response once its status is known. */
export async function vaultGet(client: VaultClient, path: string, signal?: AbortSignal): Promise<IncomingMessage> {
  const token = (await readFile(client.tokenFile, 'utf8')).trim();
  const ca = client.caFile ? await readFile(client.caFile) : undefined;
  const url = new URL(path, client.vault);
  const get = url.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/x-ndjson, application/json' }, ca, signal }, resolve);
    req.once('error', reject);
  });
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** GETs `path` and parses its JSON answer; a status other than 200 is an error naming it. */
export async function vaultJson(client: VaultClient, path: string): Promise<unknown> {
  const res = await vaultGet(client, path);
  const body = await readBody(res);
  if (res.statusCode !== 200) throw new Error(`${new URL(path, client.vault).origin} answered ${res.statusCode} for ${path.split('?')[0]}: ${body.slice(0, 200)}`);
  return JSON.parse(body);
}

const LOG_SEQ = /^\{"log":"(?:[^"\\]|\\.)*","logSeq":(\d+),/;

/**
 * Copies the per-log event lines of `res` with a logSeq above `cursor.after` to `out`, in order,
 * moving the cursor with each line written, so a stream cut in the middle resumes after the last
 * line printed. Epoch lines and the checkpoint line are not events of the log.
 */
async function copyEvents(res: IncomingMessage, out: Writable, cursor: { after: number }): Promise<void> {
  let pending = '';
  res.setEncoding('utf8');
  for await (const chunk of res as AsyncIterable<string>) {
    const text = pending + chunk;
    const end = text.lastIndexOf('\n') + 1;
    pending = text.slice(end);
    for (const line of text.slice(0, end).split('\n')) {
      const m = LOG_SEQ.exec(line);
      if (!m || Number(m[1]) <= cursor.after) continue;
      cursor.after = Number(m[1]);
      if (!out.write(`${line}\n`)) await new Promise((resolve) => out.once('drain', resolve));
    }
  }
}

const MAX_BACKOFF_MS = 30_000;

/** Runs the tail; returns the exit code. Connection problems under --follow are retried, not fatal. */
export async function runTail(req: TailRequest, out: Writable, err: Writable): Promise<number> {
  const cursor = { after: req.after ?? 0 };
  let backoff = 1_000;
  for (;;) {
    try {
      const path = req.follow ? `/v1/audit-events?follow=true&after=${cursor.after}` : '/v1/audit-events';
      const res = await vaultGet(req, path, req.signal);
      if (res.statusCode !== 200) {
        const body = await readBody(res);
        err.write(`audit tail: the vault answered ${res.statusCode}: ${body.slice(0, 200)}\n`);
        // Refusals (bad token, wrong role) will not heal by retrying; overload (429, 503) may.
        if (!req.follow || (res.statusCode !== 429 && res.statusCode !== 503)) return 1;
      } else {
        if (req.follow) {
          const ms = req.stalledAfterMs ?? STALLED_AFTER_MS;
          res.setTimeout(ms, () => res.destroy(new Error(`nothing arrived for ${ms / 1000} s`)));
        }
        await copyEvents(res, out, cursor);
        backoff = 1_000;
        if (!req.follow) return 0;
      }
    } catch (e) {
      if (req.signal?.aborted) return 0;
      err.write(`audit tail: ${(e as Error).message}${req.follow ? `; reconnecting after logSeq ${cursor.after}` : ''}\n`);
      if (!req.follow) return 1;
    }
    if (req.signal?.aborted) return 0;
    await sleep(backoff, undefined, { signal: req.signal }).catch(() => undefined);
    if (req.signal?.aborted) return 0;
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}
