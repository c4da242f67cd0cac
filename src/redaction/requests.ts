import { randomUUID } from 'node:crypto';
import { actorFields, type AuditActor } from '../audit/actor.js';
import type { AuditEventInput } from '../audit/types.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { checkHold, keepsOriginal, redact, type RedactionDeps, type RedactionSettings } from './service.js';
import { rangesView, type Redaction, type RedactionOrder, type RedactionRequest } from './types.js';

/**
 * Four-eyes redaction (REDACTION_APPROVAL=required): a supervisor (or a compliance user) asks,
 * and a compliance user other than the one who asked approves, which carries the redaction out,
 * or refuses. The request is checked as far as it can be when it is made (recording, legal hold)
 * and in full when it is carried out. Requests, decisions and refused decisions are audited.
 */
export async function requestRedaction(deps: RedactionDeps, tenant: string, recordingId: string, order: RedactionOrder, actor: AuditActor): Promise<RedactionRequest> {
  const recording = await deps.recordings.findActive(tenant, recordingId);
  if (!recording) throw new NotFoundError('No such recording');
  checkHold(recording, order, await keepsOriginal(deps, tenant, order));
  return deps.db.transaction(async (trx) => {
    const request = await deps.redactions.insertRequest({
      id: randomUUID(), tenant, recordingId, ...order, ranges: rangesView(order.ranges), requestedBy: actor.sub, requestedRole: actor.role,
    }, trx);
    await deps.audit.record(requestEvent(request, actor, 'redaction.requested', 'allowed'), trx);
    return request;
  });
}

/** Carries a pending request out; 403 for the requester, 409 once it is decided. */
export async function approveRequest(deps: RedactionDeps, settings: RedactionSettings, tenant: string, requestId: string, note: string | null, actor: AuditActor): Promise<Redaction> {
  const request = await pendingFor(deps, tenant, requestId, actor, 'redaction.approved');
  // The approval is audited (redaction.approved) in the transaction that makes the new version.
  return redact(deps, settings, tenant, request.recordingId, request, { actor, requestedBy: request.requestedBy, approval: { requestId, note } });
}

export async function refuseRequest(deps: RedactionDeps, tenant: string, requestId: string, note: string | null, actor: AuditActor): Promise<RedactionRequest> {
  await pendingFor(deps, tenant, requestId, actor, 'redaction.refused');
  return deps.db.transaction(async (trx) => {
    const request = await deps.redactions.findRequest(tenant, requestId, trx);
    if (!request) throw new NotFoundError('No such redaction request');
    if (!(await deps.redactions.decide(trx, tenant, requestId, { status: 'refused', by: actor.sub, note, redactionId: null }))) throw decided();
    await deps.audit.record({ ...requestEvent(request, actor, 'redaction.refused', 'allowed'), details: decisionDetails(request, note) }, trx);
    const after = await deps.redactions.findRequest(tenant, requestId, trx);
    if (!after) throw new NotFoundError('No such redaction request');
    return after;
  });
}

async function pendingFor(deps: RedactionDeps, tenant: string, requestId: string, actor: AuditActor, action: 'redaction.approved' | 'redaction.refused'): Promise<RedactionRequest> {
  const request = await deps.redactions.findRequest(tenant, requestId);
  if (!request) throw new NotFoundError('No such redaction request');
  if (request.status !== 'pending') throw decided();
  if (request.requestedBy === actor.sub) {
    await deps.audit.recordDenied({ ...requestEvent(request, actor, action, 'denied'), details: { ...decisionDetails(request, null), reason: 'approver_is_requester' } }, actor.sub);
    throw new ForbiddenError(undefined, 'approver_is_requester');
  }
  return request;
}

function decided(): ConflictError {
  return new ConflictError('This redaction request has already been decided', 'redaction_request_decided');
}

function decisionDetails(r: RedactionRequest, note: string | null): Record<string, unknown> {
  return { requestId: r.id, requestedBy: r.requestedBy, category: r.category, ...(note ? { note } : {}) };
}

function requestEvent(r: RedactionRequest, actor: AuditActor, action: AuditEventInput['action'], outcome: 'allowed' | 'denied'): AuditEventInput {
  return {
    tenant: r.tenant, ...actorFields(actor), action, outcome, recordingId: r.recordingId,
    details: { requestId: r.id, category: r.category, fill: r.fill, reason: r.reason, ranges: rangesView(r.ranges) },
  };
}
