/**
 * The load generator's HTTP side: undici over TLS, trusting the vault's self-signed certificate.
 * Bodies stream from generators; responses are read to the end so that a connection is free
 * again before the next request is timed.
 */
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';

export function agentFor(ca: Buffer, connections = 1): Agent {
  return new Agent({ connect: { ca }, connections, pipelining: 1, keepAliveTimeout: 4_000, bodyTimeout: 600_000, headersTimeout: 600_000 });
}

export interface PutResult {
  readonly status: number;
  readonly ms: number;
  readonly text: string;
}

export async function put(agent: Agent, url: string, body: Buffer | Readable, size: number, headers: Record<string, string> = {}): Promise<PutResult> {
  const started = performance.now();
  const res = await request(url, {
    dispatcher: agent, method: 'PUT', body,
    headers: { 'content-type': 'audio/wav', 'content-length': String(size), ...headers },
  });
  const text = await res.body.text();
  return { status: res.statusCode, ms: performance.now() - started, text };
}

export function expectStatus(r: { status: number; text?: string }, ok: readonly number[], what: string): void {
  if (!ok.includes(r.status)) throw new Error(`${what} answered ${r.status}: ${(r.text ?? '').slice(0, 300)}`);
}

export interface GetResult {
  readonly status: number;
  /** Request start to the first body byte. */
  readonly ttfbMs: number;
  readonly totalMs: number;
  readonly bytes: number;
}

export async function get(agent: Agent, url: string, headers: Record<string, string> = {}): Promise<GetResult> {
  const started = performance.now();
  const res = await request(url, { dispatcher: agent, method: 'GET', headers });
  let first = 0;
  let bytes = 0;
  for await (const chunk of res.body) {
    if (bytes === 0) first = performance.now();
    bytes += (chunk as Buffer).length;
  }
  const end = performance.now();
  return { status: res.statusCode, ttfbMs: (bytes ? first : end) - started, totalMs: end - started, bytes };
}

export async function postJson<T>(agent: Agent, url: string, body: unknown, token: string): Promise<{ status: number; json: T }> {
  const res = await request(url, {
    dispatcher: agent, method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  return { status: res.statusCode, json: (await res.body.json()) as T };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export async function putJson<T>(agent: Agent, url: string, body: unknown, token: string): Promise<{ status: number; json: T }> {
  const res = await request(url, {
    dispatcher: agent, method: 'PUT', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  return { status: res.statusCode, json: (await res.body.json()) as T };
}
