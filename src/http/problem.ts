import type { ErrorRequestHandler, Response } from 'express';
import { isConnectionError } from '../db/knex.js';
import { AppError, BadRequestError, DependencyError, NotFoundError, RangeNotSatisfiableError, ERRORS, titleOf } from '../errors.js';
import { ContentLengthMismatchError, ObjectNotFoundError, RangeOutsideObjectError, StorageError } from '../storage/errors.js';
import type { Logger } from './logger.js';
import { safeUrl } from './logger.js';

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

export function requestIdOf(res: Response): string {
  return typeof res.locals.requestId === 'string' ? res.locals.requestId : 'unknown';
}

export function sendProblem(res: Response, status: number, code: string, detail: string, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: Problem = {
    type: `https://callvault.dev/problems/${code}`, title: titleOf(status), status, detail, code, requestId: requestIdOf(res),
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

/** Storage faults in HTTP terms: the store speaks of objects, the client hears of its request. */
function fromStorage(err: StorageError): AppError {
  if (err instanceof ObjectNotFoundError) return new NotFoundError(err.message, 'object_not_found');
  if (err instanceof RangeOutsideObjectError) return new RangeNotSatisfiableError(err.sizeBytes);
  if (err instanceof ContentLengthMismatchError) return new BadRequestError(err.message, 'content_length_mismatch');
  return new DependencyError('storage', err.message, err.cause ?? err);
}

/** The error a client should see for `err`, or null when it is an internal fault. */
export function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (err instanceof StorageError) return fromStorage(err);
  if (isConnectionError(err)) return new DependencyError('database', undefined, err);
  return null;
}

export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (caught, req, res, _next) => {
    const err = toAppError(caught) ?? caught;
    if (err instanceof AppError) {
      if (err.status >= 500) logger.error({ err, requestId: requestIdOf(res), url: safeUrl(req.originalUrl) }, 'dependency or integrity failure');
      return sendProblem(res, err.status, err.code, err.message, err.headers);
    }
    const fault = clientFault(err);
    if (fault) return sendProblem(res, fault.status, fault.code, fault.detail);
    logger.error({ err, requestId: requestIdOf(res), method: req.method, url: safeUrl(req.originalUrl) }, 'unhandled error');
    return sendProblem(res, 500, 'internal_error', ERRORS.internal_error.message);
  };
}
