import type { Request, Response } from 'express';
import { AppError, BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors.js';
import type { SecureRouter, SecuredRoute } from '../http/secure-router.js';
import { expectedSha256 } from './body.js';
import { auditActor } from '../audit/actor.js';
import type { FormUpload, IngestService, UploadResult, UploadTarget } from './ingest.js';
import { parseMultipartUpload } from './multipart.js';
import { parseCallId, parseMetadata, type UploadMetadata } from '../recordings/metadata.js';
import { toReceipt } from '../recordings/types.js';

/**
 * The upload routes parse the request (a raw PUT body, or a multipart form) into an upload
 * request for the ingest service, and turn its result into the receipt.
 */
export interface IngestRouteDeps {
  readonly ingest: Pick<IngestService, 'upload'>;
  /** RECORDING_MAX_BYTES: a declared Content-Length above it is refused before any work. */
  readonly maxBytes: number;
  /** Mutual-TLS and IP-allowlist checks for the pbx role. */
  readonly pbxGate?: SecuredRoute['gate'];
  /** Told how each authorised upload ended (the uploads metric). */
  readonly onUpload?: (outcome: UploadOutcome) => void;
}

/** created 201, duplicate 200 (a retry), rejected 4xx (the client's fault), failed 5xx. */
export type UploadOutcome = 'created' | 'duplicate' | 'rejected' | 'failed';

function counted(deps: IngestRouteDeps, handler: SecuredRoute['handler']): SecuredRoute['handler'] {
  return async (req, res, ctx, input) => {
    try {
      await handler(req, res, ctx, input);
    } catch (err) {
      deps.onUpload?.(err instanceof AppError && err.status < 500 ? 'rejected' : 'failed');
      throw err;
    }
  };
}

function checkDeclaredLength(req: Request, maxBytes: number): void {
  const declared = req.get('content-length');
  if (declared !== undefined) {
    if (!/^\d{1,16}$/.test(declared)) throw new BadRequestError('Content-Length is not a number', 'invalid_content_length');
    if (Number(declared) === 0) throw new BadRequestError('The recording body is empty', 'empty_body');
  }
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw new PayloadTooLargeError(`Recordings are limited to ${maxBytes} bytes`);
  }
}

function sendReceipt(deps: IngestRouteDeps, res: Response, { created, recording }: UploadResult): void {
  deps.onUpload?.(created ? 'created' : 'duplicate');
  res.status(created ? 201 : 200).location(`/v1/recordings/${recording.id}`).json(toReceipt(recording));
}

/** A 4xx on an upload leaves the rest of the body unread: close the connection after answering. */
function closeAfterError(req: Request, res: Response): void {
  res.once('finish', () => { if (!req.complete) req.socket.destroySoon(); });
}

/**
 * The metadata of the fields a form sent before its file part, which decide the retention the
 * object is written under. Fields that do not parse are left for the target to reject once the
 * whole form is read.
 */
function earlyMetadata(fields: Readonly<Record<string, string>>): UploadMetadata {
  try {
    return parseMetadata(fields);
  } catch {
    return parseMetadata({});
  }
}

function formTarget(fields: Readonly<Record<string, string>>): UploadTarget {
  if (!fields.callId) throw new BadRequestError('The callId form field is required', 'missing_call_id');
  return { callId: parseCallId(fields.callId).callId, meta: parseMetadata(fields) };
}

function formOf(req: Request): FormUpload {
  return {
    kind: 'form',
    read: async (onFile) => {
      const { fields, file } = await parseMultipartUpload(req, (part, before) => onFile(part, earlyMetadata(before)));
      return { file, target: () => formTarget(fields) };
    },
  };
}

export function registerIngestRoutes(router: SecureRouter, deps: IngestRouteDeps): void {
  router.route({
    method: 'put', path: '/v1/recordings/:callId', permission: 'recording:upload', gate: deps.pbxGate,
    handler: counted(deps, async (req, res, ctx) => {
      closeAfterError(req, res);
      const { callId } = parseCallId(String(req.params.callId));
      const meta = parseMetadata(req.query as Record<string, unknown>);
      const type = req.get('content-type');
      if (type && !/^(?:audio\/[\w.+-]+|application\/octet-stream|video\/webm|binary\/octet-stream)\s*(?:;.*)?$/i.test(type)) {
        throw new UnsupportedMediaTypeError('PUT takes the raw audio bytes (audio/* or application/octet-stream); use POST with multipart/form-data for forms');
      }
      checkDeclaredLength(req, deps.maxBytes);
      const expected = expectedSha256(req.get('content-digest'), req.get('x-checksum-sha256'));
      sendReceipt(deps, res, await deps.ingest.upload({
        tenant: ctx.principal.tenant, actor: auditActor(ctx), expectedSha256: expected, source: { kind: 'raw', callId, meta, body: req },
      }));
    }),
  });

  router.route({
    method: 'post', path: '/v1/recordings', permission: 'recording:upload', gate: deps.pbxGate,
    handler: counted(deps, async (req, res, ctx) => {
      closeAfterError(req, res);
      if (!/^multipart\/form-data\s*;/i.test(req.get('content-type') ?? '')) {
        throw new UnsupportedMediaTypeError('POST /v1/recordings takes multipart/form-data with one file part; use PUT for a raw body');
      }
      checkDeclaredLength(req, deps.maxBytes + 1024 * 1024);
      // Content-Digest would cover the whole multipart body, not the recording; only the file's own digest applies here.
      const expected = expectedSha256(undefined, req.get('x-checksum-sha256'));
      sendReceipt(deps, res, await deps.ingest.upload({ tenant: ctx.principal.tenant, actor: auditActor(ctx), expectedSha256: expected, source: formOf(req) }));
    }),
  });
}
