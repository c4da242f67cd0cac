import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Config } from '../config/config.js';
import type { Logger } from './logger.js';
import type { TlsMaterial } from './tls.js';

/**
 * The HTTPS listener. Header and idle-body timeouts defend against slowloris and slow-body
 * clients; `close()` stops accepting, lets in-flight requests finish within the grace period and
 * only then resolves, so callers can shut the database down after it.
 */
export interface RunningServer {
  readonly server: https.Server;
  readonly port: number;
  close(): Promise<void>;
}

export async function listen(app: Express, config: Config, tls: TlsMaterial, logger: Logger, port = config.http.port): Promise<RunningServer> {
  const server = https.createServer({
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
    minVersion: 'TLSv1.2',
    maxHeaderSize: 16 * 1024,
    headersTimeout: config.http.headersTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: 5_000,
  }, app);
  server.setTimeout(config.http.idleBodyTimeoutMs, (socket) => socket.destroy());
  server.maxHeadersCount = 100;
  server.on('tlsClientError', () => undefined);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/problem+json\r\n\r\n{"status":400,"title":"Bad Request","code":"malformed_request","detail":"The request could not be parsed"}');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, config.http.host, () => { server.off('error', reject); resolve(); });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    server,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      const deadline = setTimeout(() => {
        logger.warn('shutdown grace period over; closing remaining connections');
        server.closeAllConnections();
      }, config.http.shutdownGraceMs);
      deadline.unref();
      server.close(() => { clearTimeout(deadline); resolve(); });
      server.closeIdleConnections();
    }),
  };
}
