/** Small builders the case lists share. */
import { readFileSync } from 'node:fs';
import { fixturePath } from '../../helpers/vault.js';
import type { HeaderList, RequestSpec } from '../corpus.js';

/** Bytes that are no audio container: an upload that got past every other check answers 415. */
export const NOT_AUDIO = Buffer.from('these bytes are not a recording in any container format\n');

/** A real (small) Ogg/Opus recording, for cases that must get as far as storing it. */
export const OPUS = readFileSync(fixturePath('call-16k-mono.opus'));

export function upload(target: string | Buffer, token: string, body: Buffer = NOT_AUDIO, headers: HeaderList = [['Content-Type', 'audio/ogg']]): RequestSpec {
  return { method: 'PUT', target, token, headers, body };
}

export function jsonRequest(method: string, target: string, token: string, body: string | Buffer, contentType = 'application/json'): RequestSpec {
  return { method, target, token, headers: [['Content-Type', contentType]], body };
}

export interface Part {
  /** Content-Disposition name; omitted for a part without one. */
  readonly name?: string;
  readonly filename?: string;
  readonly type?: string;
  readonly headers?: readonly string[];
  readonly data: Buffer | string;
}

export function multipartBody(boundary: string, parts: readonly Part[], close = true): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const disposition = p.name === undefined ? [] : [`Content-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`];
    const head = [`--${boundary}`, ...disposition, ...(p.type ? [`Content-Type: ${p.type}`] : []), ...(p.headers ?? []), '', ''].join('\r\n');
    out.push(Buffer.from(head, 'utf8'), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data, 'utf8'), Buffer.from('\r\n'));
  }
  if (close) out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

export function multipartRequest(token: string, body: Buffer, boundary = 'hostile-boundary', headers: HeaderList = []): RequestSpec {
  return { method: 'POST', target: '/v1/recordings', token, headers: [['Content-Type', `multipart/form-data; boundary=${boundary}`], ...headers], body };
}

export const file = (data: Buffer = OPUS, name = 'file'): Part => ({ name, filename: 'call.opus', type: 'audio/ogg', data });
export const field = (name: string, data: string): Part => ({ name, data });
