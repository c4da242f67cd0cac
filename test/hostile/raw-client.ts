/**
 * One HTTP/1.1 exchange written byte for byte over TLS: the request may be anything at all
 * (NUL bytes, non-UTF-8, broken framing, a body cut off mid-chunk), and the answer is parsed
 * by hand so that nothing a well-behaved client library would refuse stands in the way.
 */
import tls from 'node:tls';

export interface RawResponse {
  readonly status: number;
  /** Lower-cased names; a repeated header keeps its last value. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface RawExchange {
  /** The first response the server sent, or null when it closed (or went quiet) without one. */
  readonly response: RawResponse | null;
  /** Everything received, for failure messages. */
  readonly received: Buffer;
}

export interface RawOptions {
  /** Close the connection right after writing (a client that dies mid-request). */
  readonly hangUp?: boolean;
  /** How long to wait for a complete response. */
  readonly timeoutMs?: number;
  /** HEAD responses carry no body whatever their Content-Length says. */
  readonly head?: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');

export function exchange(server: { url: string; ca: Buffer }, pieces: readonly Buffer[], opts: RawOptions = {}): Promise<RawExchange> {
  const url = new URL(server.url);
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: server.ca, servername: 'localhost' });
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const received = Buffer.concat(chunks);
      resolve({ response: parseResponse(received, opts.head ?? false, true), received });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 10_000);
    socket.once('secureConnect', () => {
      void writeAll(socket, pieces).then(() => {
        if (opts.hangUp) setTimeout(finish, 150);
      });
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (!opts.hangUp && parseResponse(Buffer.concat(chunks), opts.head ?? false)) finish();
    });
    // Refusals often close the connection while the body is still being written: not an error here.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (chunks.length === 0 && !socket.authorized && err.code !== 'ECONNRESET' && err.code !== 'EPIPE') {
        settled = true;
        clearTimeout(timer);
        reject(err);
        return;
      }
      finish();
    });
    socket.once('close', finish);
  });
}

async function writeAll(socket: tls.TLSSocket, pieces: readonly Buffer[]): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed || !socket.writable) return;
    const flushed = socket.write(piece);
    if (!flushed) {
      await new Promise<void>((resolve) => {
        const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve(); };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
  }
}

/**
 * The first response in `raw`, or null while it is incomplete. Once the connection is over
 * (`final`), a head without a complete body still counts, with what body there is.
 */
export function parseResponse(raw: Buffer, head: boolean, final = false): RawResponse | null {
  const end = raw.indexOf(HEAD_END);
  if (end < 0) return null;
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  // 1xx answers (100 Continue) precede the real one.
  if (status >= 100 && status < 200) return parseResponse(raw.subarray(end + 4), head, final);
  const rest = raw.subarray(end + 4);
  if (head || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const body = dechunk(rest);
    if (body) return { status, headers, body };
    return final ? { status, headers, body: rest } : null;
  }
  const length = Number(headers['content-length'] ?? NaN);
  if (Number.isFinite(length) && rest.length >= length) return { status, headers, body: rest.subarray(0, length) };
  return final ? { status, headers, body: rest } : null;
}

function dechunk(raw: Buffer): Buffer | null {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return null;
    if (size === 0) return Buffer.concat(out);
    const start = lineEnd + 2;
    if (raw.length < start + size + 2) return null;
    out.push(raw.subarray(start, start + size));
    at = start + size + 2;
  }
}
