import type { ErrorRequestHandler, Response } from 'express';
import { isConnectionError } from '../db/knex.js';
import { AppError } from '../errors.js';
import { StorageError } from '../storage/errors.js';
import type { Logger } from './logger.js';
import { safeUrl } from './logger.js';
import { storageProblem } from './storage-problems.js';

/**
 * RFC 9457 problem details. Known errors keep their status and code; anything else becomes a
 * 500 whose details are withheld from the client and logged once with the request id.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 411: 'Length Required', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function requestIdOf(res: Response): string {
  return typeof res.locals.requestId === 'string' ? res.locals.requestId : 'unknown';
}

export function sendProblem(res: Response, status: number, code: string, detail: string, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: Problem = {
    type: `https://callvault.dev/problems/${code}`, title: TITLES[status] ?? 'Error', status, detail, code, requestId: requestIdOf(res),
  };
  // Headers of a body that is not being sent go; the error's own (e.g. 416's Content-Range) stay.
  res.removeHeader('Content-Disposition');
  res.removeHeader('Content-Range');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).type('application/problem+json').send(JSON.stringify(body));
}

/** Body-parser and similar middleware signal client faults with `status`/`type` fields. */
function clientFault(err: unknown): { status: number; code: string; detail: string } | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as { status?: unknown; type?: unknown; expose?: unknown; message?: unknown };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
    const code = typeof e.type === 'string' ? e.type.replace(/\./g, '_') : 'bad_request';
    return { status: e.status, code, detail: e.status === 400 && code === 'entity_parse_failed' ? 'The request body is not valid JSON' : String(e.message) };
  }
  return null;
}

export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (thrown, req, res, _next) => {
    const err: unknown = thrown instanceof StorageError ? storageProblem(thrown) : thrown;
    if (err instanceof AppError) {
      if (err.status >= 500) logger.error({ err, requestId: requestIdOf(res), url: safeUrl(req.originalUrl) }, 'dependency or integrity failure');
      return sendProblem(res, err.status, err.code, err.message, err.headers);
    }
    const fault = clientFault(err);
    if (fault) return sendProblem(res, fault.status, fault.code, fault.detail);
    if (isConnectionError(err)) {
      logger.error({ err, requestId: requestIdOf(res), url: safeUrl(req.originalUrl) }, 'database unavailable');
      return sendProblem(res, 503, 'database_unavailable', 'The database is unavailable; retry shortly', { 'Retry-After': '5' });
    }
    logger.error({ err, requestId: requestIdOf(res), method: req.method, url: safeUrl(req.originalUrl) }, 'unhandled error');
    return sendProblem(res, 500, 'internal_error', 'An internal error occurred; quote the requestId when reporting it');
  };
}
