import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A key of its own for each use of one secret (HMAC-SHA256 of the label), so that a MAC made for
 * one purpose (a playback link, a search cursor) can never be replayed as another's.
 */
export function deriveKey(secret: Buffer, label: string): Buffer {
  return createHmac('sha256', secret).update(label).digest();
}

export type OpenResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad_signature' };

const B64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The one signed-blob codec: `base64url(JSON).base64url(HMAC-SHA256)`. The MAC may also cover a
 * `binding` that is not in the blob (the query a cursor belongs to, say): a blob then opens only
 * under the same binding. The MAC is checked, in constant time, before the JSON is parsed, and
 * `open` returns the parsed JSON unvalidated: the caller checks its shape.
 */
export class SignedBlobCodec {
  private readonly key: Buffer;

  constructor(secret: Buffer, label: string, private readonly maxLength = 4096) {
    this.key = deriveKey(secret, label);
  }

  seal(value: unknown, binding?: string): string {
    const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${payload}.${this.mac(payload, binding).toString('base64url')}`;
  }

  open(text: string, binding?: string): OpenResult {
    if (text.length > this.maxLength) return { ok: false, reason: 'malformed' };
    const [payload, mac, extra] = text.split('.');
    if (!payload || !mac || extra !== undefined || !B64URL.test(payload) || !B64URL.test(mac)) return { ok: false, reason: 'malformed' };
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(payload, binding);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
    try {
      return { ok: true, value: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown };
    } catch {
      return { ok: false, reason: 'malformed' };
    }
  }

  /** Without a binding the MAC covers the payload alone; with one, `binding \n payload`. */
  private mac(payload: string, binding: string | undefined): Buffer {
    const h = createHmac('sha256', this.key);
    if (binding !== undefined) h.update(binding).update('\n');
    return h.update(payload).digest();
  }
}
