import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { safeUrl, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/**
 * Request id, the request log line and the HTTP metrics. Every response is logged and counted
 * exactly once: on `finish` when the last byte was handed to the connection, or on `close` when
 * the connection went first (a player that seeks cancels the Range response it no longer
 * needs). `bytes` is the body handed to the connection before it closed; `aborted` marks a
 * response the client cut short. A client that hangs up before the status line was sent is
 * counted with status 499 (the nginx convention for "client closed request").
 */
export const CLIENT_CLOSED = 499;

export interface RequestLogDeps {
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, 'httpRequests' | 'httpDuration' | 'httpAborted'>;
}

export function requestContext(deps: RequestLogDeps) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && /^[A-Za-z0-9._-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    const bodyBytes = countBody(res);
    let done = false;
    const observe = (aborted: boolean): void => {
      if (done) return;
      done = true;
      const route = routeLabel(req);
      const status = res.headersSent ? res.statusCode : CLIENT_CLOSED;
      const labels = { route, method: req.method, status: String(status) };
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics.httpRequests.inc(labels);
      deps.metrics.httpDuration.observe(labels, seconds);
      if (aborted) deps.metrics.httpAborted.inc(labels);
      deps.logger.info({
        requestId, method: req.method, url: safeUrl(req.originalUrl), status, ms: Math.round(seconds * 1000), bytes: bodyBytes(),
        ...(aborted ? { aborted: true } : {}),
      }, 'request');
    };
    res.once('finish', () => observe(false));
    res.once('close', () => observe(!res.writableFinished));
    next();
  };
}

/** Counts the body bytes written to the response while its connection is open. */
function countBody(res: Response): () => number {
  let bytes = 0;
  const add = (chunk: unknown, encoding: unknown): void => {
    if (res.destroyed || res.req.method === 'HEAD' || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (chunk instanceof Uint8Array) bytes += chunk.byteLength;
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: Response, ...args: unknown[]): boolean {
    add(args[0], args[1]);
    return Reflect.apply(write, this, args) as boolean;
  } as Response['write'];
  res.end = function (this: Response, ...args: unknown[]): Response {
    add(args[0], args[1]);
    return Reflect.apply(end, this, args) as Response;
  } as Response['end'];
  return () => bytes;
}

function routeLabel(req: Request): string {
  const route = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof route === 'string') return route;
  if (req.path.startsWith('/media/')) return '/media/:token';
  return 'unmatched';
}
