/** Shared pieces of the access, link and playback tests. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { request, type HttpRequest, type HttpResponse } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import type { TestVault } from '../helpers/vault.js';

export interface Receipt { id: string; callId: string; sha256: string; sizeBytes: number; contentType: string }
export interface View extends Receipt { startedAt: string | null; agentId: string | null; direction: string | null; from: string | null; to: string | null; tags: string[] }
export interface IssuedLink { linkId: string; url: string; expiresAt: string }
export interface Page { items: View[]; nextCursor: string | null }

/** A request whose answer is checked against openapi.yaml before the test looks at it. */
export async function call(vault: TestVault, req: HttpRequest): Promise<HttpResponse> {
  const res = await request(vault, req);
  return assertContract(req.method ?? 'GET', new URL(req.path, vault.url).pathname, res);
}

/** A canonical 44-byte WAV header for `dataBytes` of audio. */
export function wavHeader(dataBytes: number, opts: { format?: 1 | 7; channels?: number; rate?: number; bits?: number } = {}): Buffer {
  const format = opts.format ?? 1;
  const channels = opts.channels ?? 1;
  const rate = opts.rate ?? 8000;
  const bits = opts.bits ?? (format === 7 ? 8 : 16);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(format, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE((rate * channels * bits) / 8, 28);
  h.writeUInt16LE((channels * bits) / 8, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A small distinct WAV: each seed gives different bytes. */
export function tinyWav(seed: number, dataBytes = 256): Buffer {
  const data = Buffer.alloc(dataBytes);
  for (let i = 0; i < dataBytes; i++) data[i] = (seed * 131 + i * 7) & 0xff;
  return Buffer.concat([wavHeader(dataBytes), data]);
}

/**
 * A long G.711 body that exists only as a function of the offset, so a 30-minute recording can be
 * streamed up and any slice of it recomputed without holding it.
 */
export class SyntheticRecording {
  readonly header: Buffer;
  readonly size: number;

  constructor(readonly dataBytes: number, opts: { channels?: number } = {}) {
    this.header = wavHeader(dataBytes, { format: 7, channels: opts.channels ?? 1, rate: 8000, bits: 8 });
    this.size = this.header.length + dataBytes;
  }

  byteAt(offset: number): number {
    if (offset < this.header.length) return this.header[offset] ?? 0;
    const i = offset - this.header.length;
    return (Math.imul(i, 2654435761) >>> 13) & 0xff;
  }

  slice(start: number, endInclusive: number): Buffer {
    const out = Buffer.alloc(endInclusive - start + 1);
    for (let i = 0; i < out.length; i++) out[i] = this.byteAt(start + i);
    return out;
  }

  /** The whole recording as a stream of chunks computed on demand. */
  body(chunkBytes = 256 * 1024): Readable {
    let offset = 0;
    const size = this.size;
    const slice = (start: number, end: number): Buffer => this.slice(start, end);
    return new Readable({
      read() {
        if (offset >= size) {
          this.push(null);
          return;
        }
        const end = Math.min(size, offset + chunkBytes) - 1;
        const chunk = slice(offset, end);
        offset = end + 1;
        this.push(chunk);
      },
    });
  }
}

export async function upload(vault: TestVault, token: string, callId: string, body: Buffer | Readable, meta: Record<string, string> = {}): Promise<Receipt> {
  const qs = new URLSearchParams(meta).toString();
  const res = await call(vault, { method: 'PUT', path: `/v1/recordings/${encodeURIComponent(callId)}${qs ? `?${qs}` : ''}`, body, token });
  assert.equal(res.status, 201, res.body.toString());
  return res.json<Receipt>();
}

export async function issueLink(vault: TestVault, token: string, recordingId: string, body: Record<string, unknown> = { reason: 'quality review' }): Promise<IssuedLink> {
  const res = await call(vault, {
    method: 'POST', path: `/v1/recordings/${recordingId}/links`, token,
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, res.body.toString());
  return res.json<IssuedLink>();
}

/** The path of a link URL (the host is localhost or PUBLIC_URL; tests talk to 127.0.0.1). */
export function mediaPath(link: IssuedLink): string {
  return new URL(link.url).pathname;
}

export function play(vault: TestVault, link: IssuedLink | string, headers: Record<string, string> = {}, method = 'GET'): Promise<HttpResponse> {
  const path = typeof link === 'string' ? link : mediaPath(link);
  return call(vault, { method, path, headers: { 'user-agent': 'test-player/1.0', ...headers } });
}

export interface AuditRow {
  seq: number; tenant: string | null; actor_sub: string; actor_role: string | null; action: string; outcome: string;
  recording_id: string | null; link_id: string | null; ip: string | null; user_agent: string | null; request_id: string | null;
  details: Record<string, unknown>;
}

export async function auditRows(vault: TestVault, where: Partial<Pick<AuditRow, 'action' | 'link_id' | 'recording_id' | 'tenant' | 'request_id'>>): Promise<AuditRow[]> {
  return vault.deps.db<AuditRow>('audit_events').where(where).orderBy('seq');
}

/** Every audit row as text, for "the token appears nowhere" checks. */
export async function auditText(vault: TestVault): Promise<string> {
  const rows = await vault.deps.db('audit_events').select('*');
  return JSON.stringify(rows);
}
