import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { Readable } from 'node:stream';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

export interface HttpRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string | Readable;
  readonly token?: string;
}

/** One HTTPS request against a test vault, trusting its self-signed certificate. */
export function request(base: { url: string; ca: Buffer }, req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.path, base.url);
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (req.token) headers.authorization = `Bearer ${req.token}`;
  if ((typeof req.body === 'string' || Buffer.isBuffer(req.body)) && !('content-length' in headers)) {
    headers['content-length'] = String(Buffer.byteLength(req.body));
  }
  return new Promise((resolve, reject) => {
    const r = https.request(url, { method: req.method ?? 'GET', headers, ca: base.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0, headers: res.headers, body,
          json: <T>() => JSON.parse(body.toString('utf8')) as T,
        });
      });
    });
    r.on('error', reject);
    if (req.body instanceof Readable) req.body.pipe(r);
    else r.end(req.body);
  });
}

/** A multipart/form-data upload: the callId field, then one WAV file part. */
export function multipartUpload(callId: string, file: Buffer): { body: Buffer; type: string } {
  const boundary = `b${randomUUID()}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="callId"\r\n\r\n${callId}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
    file, Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}
