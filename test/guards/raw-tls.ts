/**
 * A hand-driven TLS client for attacks a well-behaved HTTP client cannot make: headers sent one
 * byte at a time, bodies that stall, oversized or malformed request heads.
 */
import tls from 'node:tls';

export interface RawConnection {
  readonly socket: tls.TLSSocket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves with the milliseconds from connect to close. */
  readonly closed: Promise<number>;
  write(text: string | Buffer): boolean;
}

export async function connectRaw(vault: { url: string; ca: Buffer }): Promise<RawConnection> {
  const url = new URL(vault.url);
  const chunks: Buffer[] = [];
  const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: vault.ca, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const started = Date.now();
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  return {
    socket, closed,
    received: () => Buffer.concat(chunks).toString('latin1'),
    write: (text) => (socket.destroyed ? false : socket.write(text)),
  };
}

/** Writes `text` one byte every `intervalMs` until the connection closes or `text` runs out. */
export async function trickle(conn: RawConnection, text: string, intervalMs: number): Promise<void> {
  let open = true;
  void conn.closed.then(() => { open = false; });
  for (const ch of text) {
    if (!open) return;
    conn.write(ch);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The status code and parsed problem body of a raw HTTP/1.1 answer. */
export function parseRawResponse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', body = ''] = raw.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers, body };
}
