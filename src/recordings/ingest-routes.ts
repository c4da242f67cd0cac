import type { Request, Response } from 'express';
import { AppError, BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors.js';
import type { RequestContext, SecureRouter, SecuredRoute } from '../http/secure-router.js';
import { expectedSha256 } from './body.js';
import { commitRecording, discardStaged, replayUpload, resolveRetention, stageRecording, uploadEvent, type Actor, type IngestDeps, type UploadRetention } from './ingest.js';
import { parseMultipartUpload } from './multipart.js';
import { parseCallId, parseMetadata } from './metadata.js';
import { CallIdRefusedError, refusedUploadEvent } from './refusals.js';
import type { RecordingStore } from './store.js';
import { toReceipt, type Recording } from './types.js';

export interface IngestRouteDeps extends IngestDeps {
  readonly recordings: Pick<RecordingStore, 'insert' | 'findByCallId'>;
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
      if (err instanceof CallIdRefusedError) await deps.audit.recordDenied(refusedUploadEvent(err, actorOf(ctx)), ctx.principal.sub);
      deps.onUpload?.(err instanceof AppError && err.status < 500 ? 'rejected' : 'failed');
      throw err;
    }
  };
}

function actorOf(ctx: RequestContext): Actor {
  return { sub: ctx.principal.sub, role: ctx.principal.actingRole ?? 'pbx', ip: ctx.ip, userAgent: ctx.userAgent, requestId: ctx.requestId };
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

/**
 * A new recording's event was committed with its row; a retried upload that only gets the
 * existing receipt back is an access too, audited (durably) before the receipt leaves.
 */
async function sendReceipt(deps: IngestRouteDeps, res: Response, ctx: RequestContext, created: boolean, recording: Recording): Promise<void> {
  if (!created) await deps.audit.record(uploadEvent(recording, actorOf(ctx), { created: false }));
  deps.onUpload?.(created ? 'created' : 'duplicate');
  res.status(created ? 201 : 200).location(`/v1/recordings/${recording.id}`).json(toReceipt(recording));
}

/** A 4xx on an upload leaves the rest of the body unread: close the connection after answering. */
function closeAfterError(req: Request, res: Response): void {
  res.once('finish', () => { if (!req.complete) req.socket.destroySoon(); });
}

/**
 * The retention of a multipart upload from the fields sent before its file part. Fields that do
 * not parse are left for the commit to reject; metadata sent after the file is settled there.
 */
async function earlyRetention(deps: IngestDeps, tenant: string, fields: Readonly<Record<string, string>>): Promise<UploadRetention> {
  let meta: ReturnType<typeof parseMetadata>;
  try {
    meta = parseMetadata(fields);
  } catch {
    meta = parseMetadata({});
  }
  return resolveRetention(deps, tenant, meta);
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
      const existing = await deps.recordings.findByCallId(ctx.principal.tenant, callId);
      if (existing) return sendReceipt(deps, res, ctx, false, await replayUpload(deps, existing, req, expected));
      const retention = await resolveRetention(deps, ctx.principal.tenant, meta);
      const staged = await stageRecording(deps, ctx.principal.tenant, req, expected, retention);
      const { created, recording } = await commitRecording(deps, staged, callId, meta, actorOf(ctx), retention);
      await sendReceipt(deps, res, ctx, created, recording);
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
      const { fields, file: staged } = await parseMultipartUpload(
        req, async (file, early) => stageRecording(deps, ctx.principal.tenant, file, expected, await earlyRetention(deps, ctx.principal.tenant, early)),
        (s) => discardStaged(deps, s),
      );
      let parsed: { callId: string; meta: ReturnType<typeof parseMetadata> };
      try {
        if (!fields.callId) throw new BadRequestError('The callId form field is required', 'missing_call_id');
        parsed = { callId: parseCallId(fields.callId).callId, meta: parseMetadata(fields) };
      } catch (err) {
        await discardStaged(deps, staged);
        throw err;
      }
      // The commit discards the object itself, and only when no row can refer to it.
      const { created, recording } = await commitRecording(deps, staged, parsed.callId, parsed.meta, actorOf(ctx));
      await sendReceipt(deps, res, ctx, created, recording);
    }),
  });
}
