/**
 * A TCP proxy in front of the test PostgreSQL server that can lose the COMMIT of one chosen
 * transaction at the worst moment: after the server committed, before its reply reaches the
 * client (`reply`), or before the server saw it at all (`request`). Either way the connection
 * is cut, which the client sees as "Connection terminated unexpectedly" during COMMIT, exactly
 * as after a network partition or a failover. It can also refuse every new connection, to play
 * a database that stays unreachable.
 *
 * It reads the frontend protocol (startup message, then type byte + int32 length + body) to see
 * each Query and Parse; pg sends one statement at a time, so the first server bytes after COMMIT
 * are its reply.
 */
import net from 'node:net';

export type LostCommit = 'reply' | 'request';

interface Armed {
  readonly statement: RegExp;
  readonly lose: LostCommit;
  readonly refuseAfter: boolean;
  readonly done: (tag: string) => void;
}

export interface PgFaultProxy {
  readonly port: number;
  /** The same database URL, through the proxy. */
  proxied(url: string): string;
  /**
   * Loses the COMMIT of the next transaction that sent a statement matching `statement`.
   * Resolves with what happened: `committed` (the server's reply was dropped), or `not sent`.
   */
  loseCommit(statement: RegExp, lose: LostCommit, opts?: { refuseAfter?: boolean }): Promise<string>;
  /** While true, every new connection is closed at once. */
  refuse(on: boolean): void;
  close(): Promise<void>;
}

export async function startPgFaultProxy(target: { host: string; port: number }): Promise<PgFaultProxy> {
  let armed: Armed | null = null;
  let refusing = false;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (refusing) return void client.destroy();
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    upstream.once('close', () => { sockets.delete(upstream); client.destroy(); });
    upstream.on('error', () => undefined);
    client.once('close', () => upstream.destroy());

    let pending = Buffer.alloc(0);
    let started = false;
    let matched = false;
    let awaitingReply: Armed | null = null;

    const cut = (how: Armed, tag: string): void => {
      client.destroy();
      upstream.destroy();
      if (how.refuseAfter) refusing = true;
      how.done(tag);
    };

    /** Whole frontend messages from `pending`, each forwarded unless it is the COMMIT to lose. */
    const onClientBytes = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const typed = started ? 1 : 0;
        if (pending.length < typed + 4) return;
        const size = typed + pending.readUInt32BE(typed);
        if (pending.length < size) return;
        const message = pending.subarray(0, size);
        pending = pending.subarray(size);
        // SSLRequest and GSSENCRequest (untyped, 8 bytes) are followed by another untyped startup.
        if (!started && !(size === 8 && [80877103, 80877104].includes(message.readUInt32BE(4)))) started = true;
        if (!forward(message)) return;
      }
    };

    const forward = (message: Buffer): boolean => {
      const type = String.fromCharCode(message[0] ?? 0);
      const text = type === 'Q' || type === 'P' ? message.subarray(5).toString('utf8') : '';
      const sql = type === 'P' ? text.slice(text.indexOf('\0') + 1) : text;
      if (armed && sql && armed.statement.test(sql)) matched = true;
      if (/^\s*(COMMIT|END)\b/i.test(sql) && matched && armed) {
        const how = armed;
        armed = null;
        if (how.lose === 'request') {
          cut(how, 'not sent');
          return false;
        }
        awaitingReply = how;
      }
      if (/^\s*(COMMIT|END|ROLLBACK)\b/i.test(sql)) matched = false;
      upstream.write(message);
      return true;
    };

    client.on('data', onClientBytes);
    upstream.on('data', (chunk: Buffer) => {
      if (awaitingReply) {
        // 'C' CommandComplete carrying the tag "COMMIT": the server has committed.
        const tag = chunk[0] === 0x43 ? chunk.subarray(5, chunk.indexOf(0, 5)).toString('utf8') : `message ${String.fromCharCode(chunk[0] ?? 0)}`;
        return cut(awaitingReply, tag === 'COMMIT' ? 'committed' : tag);
      }
      client.write(chunk);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    proxied: (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    loseCommit: (statement, lose, opts = {}) => new Promise<string>((done) => {
      armed = { statement, lose, refuseAfter: opts.refuseAfter ?? false, done };
    }),
    refuse: (on) => { refusing = on; },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
