import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import type { Config } from '../config/config.js';
import { titleOf } from '../errors.js';
import type { Logger } from './logger.js';
import type { TlsMaterial } from './tls.js';

/**
 * The HTTPS listener and its defences against clients that hold connections open:
 * - slowloris: the request head must arrive within HTTP_HEADERS_TIMEOUT_MS (checked every
 *   second, not node's default 30 s), and the TLS handshake within the same time;
 * - slow bodies: a connection with no traffic for HTTP_IDLE_BODY_TIMEOUT_MS while the client
 *   owes body bytes gets 408 and is closed, and the whole request must arrive within
 *   HTTP_REQUEST_TIMEOUT_MS; a client that stops reading a response is cut after the same idle time;
 * - header floods: at most MAX_HEADER_BYTES of request head (431) and MAX_HEADERS_COUNT headers
 *   (the rest are ignored).
 * Parse errors and timeouts answer problem+json like every other error. `close()` stops
 * accepting, lets in-flight requests finish within the grace period and only then resolves,
 * so callers can shut the database down after it.
 */
export const MAX_HEADER_BYTES = 16 * 1024;
export const MAX_HEADERS_COUNT = 100;
const STREAM_BUFFER_BYTES = 64 * 1024;

export interface RunningServer {
  readonly server: https.Server;
  readonly port: number;
  close(): Promise<void>;
}

interface Exchange { readonly req: IncomingMessage; readonly res: ServerResponse }

export async function listen(app: Express, config: Config, tls: TlsMaterial, logger: Logger, port = config.http.port): Promise<RunningServer> {
  const limits = timeouts(config);
  const server = https.createServer({
    cert: tls.cert,
    key: tls.key,
    // Certificates are asked for but not required at the handshake: only pbx routes demand one.
    ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}),
    minVersion: 'TLSv1.2',
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: limits.headersMs,
    requestTimeout: config.http.requestTimeoutMs,
    connectionsCheckingInterval: limits.checkEveryMs,
    handshakeTimeout: limits.headersMs,
    // Above the load balancer's idle timeout, so the balancer never reuses a connection the vault closed.
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // The application refuses a missing Host itself, so that the answer is problem+json.
    requireHostHeader: false,
    // Four 16 KiB TLS records per request and response stream instead of one, so that a body
    // paused by backpressure for a moment does not stop the socket after every record.
    highWaterMark: STREAM_BUFFER_BYTES,
  }, app);
  server.maxHeadersCount = MAX_HEADERS_COUNT;
  const inflight = trackExchanges(server);
  server.setTimeout(config.http.idleBodyTimeoutMs, (socket: Duplex) => onIdle(socket, inflight.get(socket), logger));
  server.on('tlsClientError', () => undefined);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => onClientError(err, socket, inflight.get(socket), logger));
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => refuseExpectation(res));
  // Without a listener node would drop a CONNECT silently; the vault is no proxy.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => refuse(socket, 405, 'method_not_allowed', 'CONNECT is not supported'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, config.http.host, () => { server.off('error', reject); resolve(); });
  });
  const actual = (server.address() as AddressInfo).port;
  return { server, port: actual, close: () => closeGracefully(server, config.http.shutdownGraceMs, logger) };
}

/** Node refuses a head timeout above the whole-request timeout, so the smaller one wins. */
function timeouts(config: Config): { headersMs: number; checkEveryMs: number } {
  const { headersTimeoutMs, requestTimeoutMs } = config.http;
  const headersMs = requestTimeoutMs > 0 ? Math.min(headersTimeoutMs, requestTimeoutMs) : headersTimeoutMs;
  return { headersMs, checkEveryMs: Math.max(250, Math.min(1_000, Math.floor(headersMs / 4))) };
}

/** The request currently being served on each connection, so timeouts know what they interrupt. */
function trackExchanges(server: https.Server): WeakMap<Duplex, Exchange> {
  const inflight = new WeakMap<Duplex, Exchange>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const exchange = { req, res };
    inflight.set(req.socket, exchange);
    res.once('close', () => {
      if (inflight.get(req.socket) === exchange) inflight.delete(req.socket);
    });
  });
  return inflight;
}

/**
 * No traffic for the idle period. Between requests, or while a response is not being read, the
 * connection is dropped. While a body is owed, the client is blamed only when the vault is
 * actually waiting for bytes: when it has paused the body itself (backpressure from storage),
 * the wait is the vault's and the dependency timeouts bound it.
 */
function onIdle(socket: Duplex, exchange: Exchange | undefined, logger: Logger): void {
  if (!exchange || exchange.res.headersSent) {
    socket.destroy();
    return;
  }
  const { req } = exchange;
  if (req.complete || req.isPaused() || req.readableLength >= req.readableHighWaterMark) return;
  logger.debug({ ip: req.socket.remoteAddress }, 'request body stalled; closing the connection');
  refuse(socket, 408, 'request_timeout', 'The request body stopped arriving; the connection is closed');
}

const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', `The request head exceeds ${MAX_HEADER_BYTES} bytes`],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'The request did not arrive in time; the connection is closed'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'chunk_extensions_too_large', 'Chunk extensions are too large'],
};

/** The parser failed or a timeout fired before the application saw the request (or mid-body). */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex, exchange: Exchange | undefined, logger: Logger): void {
  if (err.code === 'ECONNRESET' || !socket.writable || exchange?.res.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, detail] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'malformed_request', 'The request could not be parsed as HTTP/1.1'];
  // A listener of the request stream threw inside the parser: the vault's bug, not the client's fault.
  if (err.code === 'HPE_JS_EXCEPTION') logger.error({ err }, 'exception in a request stream listener');
  else logger.debug({ code: err.code }, 'client error');
  refuse(socket, status, code, detail);
}

function problemBody(status: number, code: string, detail: string): string {
  return JSON.stringify({
    type: `https://callvault.dev/problems/${code}`, title: titleOf(status), status, detail, code, requestId: randomUUID(),
  });
}

/** An Expect other than 100-continue: node would answer a bare 417; the body is not read. */
function refuseExpectation(res: ServerResponse): void {
  const body = problemBody(417, 'expectation_failed', 'Only "Expect: 100-continue" is supported');
  res.shouldKeepAlive = false;
  res.writeHead(417, {
    'Content-Type': 'application/problem+json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff', Connection: 'close',
  });
  res.end(body);
}

/**
 * Writes a problem+json answer straight to the socket (there may be no response object, or one
 * the application still holds) and closes the connection once it is flushed, or after a second
 * if the peer does not read it.
 */
function refuse(socket: Duplex, status: number, code: string, detail: string): void {
  const body = problemBody(status, code, detail);
  const head = [
    `HTTP/1.1 ${status} ${titleOf(status)}`, 'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`, 'Cache-Control: no-store', 'X-Content-Type-Options: nosniff', 'Connection: close',
  ];
  const timer = setTimeout(() => socket.destroy(), 1_000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

function closeGracefully(server: https.Server, graceMs: number, logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const deadline = setTimeout(() => {
      logger.warn('shutdown grace period over; closing remaining connections');
      server.closeAllConnections();
    }, graceMs);
    deadline.unref();
    server.close(() => { clearTimeout(deadline); resolve(); });
    server.closeIdleConnections();
  });
}
