import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AUDIT_ACTIONS } from '../../src/audit/types.js';
import type { Role } from '../../src/auth/permissions.js';
import { runRetentionPass } from '../../src/retention/worker.js';
import { tinyWav } from '../access/support.js';
import { multipartUpload, request, type HttpRequest, type HttpResponse } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import { registeredRoutes } from '../helpers/routes.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';

/**
 * Every route of the API leaves the audit event the contract lists, carrying who (actorSub,
 * actorRole, tenant), from where (ip, userAgent), under which request (requestId, the very
 * X-Request-Id the client got back) and with what outcome.
 */
const UA = 'route-events/1.0';
const CONTRACT_ACTIONS = AUDIT_ACTIONS.slice(0, AUDIT_ACTIONS.indexOf('auth.denied') + 1);

interface Row {
  seq: string; tenant: string | null; actor_sub: string; actor_role: string | null; action: string; outcome: string;
  recording_id: string | null; link_id: string | null; ip: string | null; user_agent: string | null; request_id: string | null;
  details: Record<string, unknown>;
}

interface Expected {
  readonly action: string;
  readonly actorSub: string;
  readonly actorRole: string | null;
  readonly tenant?: string | null;
  readonly outcome?: 'allowed' | 'denied';
  readonly recordingId?: string | null;
  readonly linkId?: string | null;
  /** Keys that must hold these values; other keys may be present. */
  readonly details?: Record<string, unknown>;
}

function assertEvent(row: Row | undefined, want: Expected, requestId: string | null, where: string): void {
  assert.ok(row, `${where}: a ${want.action} event`);
  const got = {
    action: row.action, actorSub: row.actor_sub, actorRole: row.actor_role, tenant: row.tenant, outcome: row.outcome,
    ip: row.ip, userAgent: row.user_agent, requestId: row.request_id,
  };
  assert.deepEqual(got, {
    action: want.action, actorSub: want.actorSub, actorRole: want.actorRole, tenant: want.tenant === undefined ? 'acme' : want.tenant,
    outcome: want.outcome ?? 'allowed', ip: '127.0.0.1', userAgent: UA, requestId,
  }, where);
  if (want.recordingId !== undefined) assert.equal(row.recording_id, want.recordingId, `${where}: recordingId`);
  if (want.linkId !== undefined) assert.equal(row.link_id, want.linkId, `${where}: linkId`);
  for (const [key, value] of Object.entries(want.details ?? {})) assert.deepEqual(row.details[key], value, `${where}: details.${key}`);
}

describe('every route leaves its audit event', () => {
  let vault: TestVault;
  const tokens = new Map<Role, string>();
  const covered = new Set<string>();
  let first: { id: string; callId: string };
  let linkId: string;
  let mediaPath: string;

  const send = async (req: HttpRequest & { role?: Role }): Promise<HttpResponse> => {
    const token = req.role ? tokens.get(req.role) : undefined;
    const res = await request(vault, { ...req, token, headers: { 'user-agent': UA, ...(req.headers ?? {}) } });
    return assertContract(req.method ?? 'GET', new URL(req.path, vault.url).pathname, res);
  };
  const sendJson = (role: Role, method: string, path: string, body: unknown): Promise<HttpResponse> =>
    send({ role, method, path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  /** The request's events, in order; they must be exactly `want`. */
  const expectEvents = async (route: string, res: HttpResponse, status: number, want: Expected[]): Promise<Row[]> => {
    assert.equal(res.status, status, res.body.toString().slice(0, 300));
    const requestId = String(res.headers['x-request-id']);
    const rows = await vault.deps.db<Row>('audit_events').where({ request_id: requestId }).orderBy('seq');
    assert.deepEqual(rows.map((r) => r.action), want.map((w) => w.action), `${route}: the actions written under request ${requestId}`);
    want.forEach((w, i) => assertEvent(rows[i], w, requestId, `${route} (${w.action})`));
    covered.add(route);
    return rows;
  };

  const uploadAs = async (callId: string, body: Buffer, query = ''): Promise<HttpResponse> =>
    send({ role: 'pbx', method: 'PUT', path: `/v1/recordings/${callId}${query}`, body, headers: { 'content-type': 'audio/wav' } });

  before(async () => {
    vault = await startVault();
    for (const role of ['pbx', 'agent', 'supervisor', 'compliance', 'admin'] as const) tokens.set(role, await vault.token(role));
  });
  after(async () => { await vault.close(); });

  test('uploads: recording.uploaded for PUT, its retry and POST multipart', async () => {
    const wav = await readFile(fixturePath('call-ulaw-8k-mono.wav'));
    const put = await uploadAs('ev-1.wav', wav, '?agentId=agent-1&from=%2B14155550142');
    first = put.json<{ id: string; callId: string }>();
    const uploaded = { action: 'recording.uploaded', actorSub: 'pbx-1', actorRole: 'pbx', recordingId: first.id };
    await expectEvents('PUT /v1/recordings/{callId}', put, 201, [{ ...uploaded, details: { created: true, callId: 'ev-1' } }]);
    await expectEvents('PUT /v1/recordings/{callId}', await uploadAs('ev-1.wav', wav), 200, [{ ...uploaded, details: { created: false } }]);

    const form = multipartUpload('ev-2', tinyWav(2));
    const post = await send({ role: 'pbx', method: 'POST', path: '/v1/recordings', body: form.body, headers: { 'content-type': form.type } });
    await expectEvents('POST /v1/recordings', post, 201, [{ ...uploaded, recordingId: post.json<{ id: string }>().id, details: { created: true } }]);
  });

  test('reads: recording.listed, recording.viewed and media.peaks, a client-chosen X-Request-Id kept', async () => {
    const list = await send({ role: 'supervisor', path: '/v1/recordings?agentId=agent-1' });
    await expectEvents('GET /v1/recordings', list, 200, [{ action: 'recording.listed', actorSub: 'supervisor-1', actorRole: 'supervisor', details: { count: 1 } }]);
    const view = await send({ role: 'agent', path: `/v1/recordings/${first.id}`, headers: { 'x-request-id': 'client-req-0001' } });
    assert.equal(view.headers['x-request-id'], 'client-req-0001');
    await expectEvents('GET /v1/recordings/{id}', view, 200, [{ action: 'recording.viewed', actorSub: 'agent-1', actorRole: 'agent', recordingId: first.id, details: { view: 'metadata' } }]);
    const peaks = await send({ role: 'agent', path: `/v1/recordings/${first.id}/peaks` });
    await expectEvents('GET /v1/recordings/{id}/peaks', peaks, 200, [{ action: 'media.peaks', actorSub: 'agent-1', actorRole: 'agent', recordingId: first.id, details: { cached: false, channels: 1, bucketMs: 10 } }]);
  });

  test('links and playback: link.issued, media.read with its range, link.revoked, then auth.denied', async () => {
    const issue = await sendJson('supervisor', 'POST', `/v1/recordings/${first.id}/links`, { reason: 'quality review' });
    linkId = issue.json<{ linkId: string }>().linkId;
    mediaPath = new URL(issue.json<{ url: string }>().url).pathname;
    await expectEvents('POST /v1/recordings/{id}/links', issue, 201, [{
      action: 'link.issued', actorSub: 'supervisor-1', actorRole: 'supervisor', recordingId: first.id, linkId, details: { reason: 'quality review' },
    }]);

    // The link is the credential: the actor is the link, its issuer is in the details.
    const media = await send({ path: mediaPath, headers: { range: 'bytes=100-1123' } });
    await expectEvents('GET /media/{token}', media, 206, [{
      action: 'media.read', actorSub: `link:${linkId}`, actorRole: null, recordingId: first.id, linkId,
      details: { range: 'bytes=100-1123', start: 100, end: 1123, issuedBy: 'supervisor-1' },
    }]);

    const revoke = await send({ role: 'supervisor', method: 'DELETE', path: `/v1/links/${linkId}` });
    await expectEvents('DELETE /v1/links/{linkId}', revoke, 204, [{ action: 'link.revoked', actorSub: 'supervisor-1', actorRole: 'supervisor', recordingId: first.id, linkId }]);
    const refused = await send({ path: mediaPath });
    await expectEvents('GET /media/{token}', refused, 403, [{
      action: 'auth.denied', actorSub: `link:${linkId}`, actorRole: null, outcome: 'denied', linkId, details: { reason: 'link_revoked' },
    }]);
  });

  test('legal holds, single and bulk: legal_hold.set and legal_hold.cleared', async () => {
    const officer = { actorSub: 'compliance-1', actorRole: 'compliance' };
    const set = await sendJson('compliance', 'PUT', `/v1/recordings/${first.id}/legal-hold`, { reason: 'litigation', caseId: 'CASE-1' });
    await expectEvents('PUT /v1/recordings/{id}/legal-hold', set, 200, [{ action: 'legal_hold.set', ...officer, recordingId: first.id, details: { reason: 'litigation', caseId: 'CASE-1' } }]);
    const clear = await sendJson('compliance', 'DELETE', `/v1/recordings/${first.id}/legal-hold`, { reason: 'settled' });
    await expectEvents('DELETE /v1/recordings/{id}/legal-hold', clear, 204, [{ action: 'legal_hold.cleared', ...officer, recordingId: first.id, details: { reason: 'settled' } }]);

    const bulk = await sendJson('compliance', 'POST', '/v1/legal-holds', { reason: 'preservation', caseId: 'CASE-2', filter: { callId: 'ev-1' } });
    await expectEvents('POST /v1/legal-holds', bulk, 200, [{ action: 'legal_hold.set', ...officer, recordingId: null, details: { bulk: true, count: 1, recordingIds: [first.id] } }]);
    const release = await sendJson('compliance', 'POST', '/v1/legal-holds/release', { caseId: 'CASE-2' });
    await expectEvents('POST /v1/legal-holds/release', release, 200, [{ action: 'legal_hold.cleared', ...officer, recordingId: null, details: { bulk: true, count: 1, caseId: 'CASE-2' } }]);
  });

  test('erasure by id and by data subject: recording.deleted with reason erasure', async () => {
    const officer = { actorSub: 'compliance-1', actorRole: 'compliance' };
    const one = (await uploadAs('ev-erase', tinyWav(3))).json<{ id: string }>();
    const erase = await send({ role: 'compliance', method: 'DELETE', path: `/v1/recordings/${one.id}?reason=customer%20request` });
    await expectEvents('DELETE /v1/recordings/{id}', erase, 204, [{ action: 'recording.deleted', ...officer, recordingId: one.id, details: { reason: 'erasure' } }]);

    const subject = (await uploadAs('ev-subject', tinyWav(4), '?to=%2B14155550199')).json<{ id: string }>();
    const bySubject = await sendJson('compliance', 'POST', '/v1/erasures', { phone: '(415) 555-0199', reason: 'GDPR art. 17' });
    await expectEvents('POST /v1/erasures', bySubject, 200, [
      { action: 'recording.deleted', ...officer, recordingId: subject.id, details: { reason: 'erasure', scope: 'data_subject' } },
      { action: 'recording.deleted', ...officer, recordingId: null, details: { reason: 'erasure', summary: true, count: 1, recordingIds: [subject.id] } },
    ]);
  });

  test('administration: policy.updated for policies and tenant settings, keys.rotated; reads of settings write nothing', async () => {
    const admin = { actorSub: 'admin-1', actorRole: 'admin' };
    const policy = await sendJson('admin', 'PUT', '/v1/retention-policies/brief', { retain: 'PT1S' });
    await expectEvents('PUT /v1/retention-policies/{name}', policy, 201, [{ action: 'policy.updated', ...admin, details: { policy: 'brief', retain: 'PT1S', created: true } }]);
    const settings = await sendJson('admin', 'PUT', '/v1/tenant-settings', { defaultPolicy: null });
    await expectEvents('PUT /v1/tenant-settings', settings, 200, [{ action: 'policy.updated', ...admin, details: { defaultPolicy: null } }]);
    await expectEvents('GET /v1/retention-policies', await send({ role: 'admin', path: '/v1/retention-policies' }), 200, []);
    await expectEvents('GET /v1/tenant-settings', await send({ role: 'admin', path: '/v1/tenant-settings' }), 200, []);

    const rotate = await sendJson('admin', 'POST', '/v1/keys/rotate', {});
    await expectEvents('POST /v1/keys/rotate', rotate, 200, [{ action: 'keys.rotated', ...admin, details: { operation: 'rotate', keyRef: 'local:v2', previous: 'local:v1' } }]);
  });

  test('the retention worker: recording.deleted with reason retention, by system:retention', async () => {
    const due = (await uploadAs('ev-due', tinyWav(5), '?policy=brief')).json<{ id: string }>();
    const pass = await runRetentionPass(vault.deps, new Date(Date.now() + 60_000));
    assert.deepEqual(pass.ids, [due.id]);
    const [row] = await vault.deps.db<Row>('audit_events').where({ action: 'recording.deleted', recording_id: due.id });
    assert.ok(row);
    assert.deepEqual(
      [row.actor_sub, row.actor_role, row.tenant, row.outcome, row.request_id, row.details.reason],
      ['system:retention', null, 'acme', 'allowed', null, 'retention'],
    );
  });

  test('refusals: auth.denied for a missing token (401) and a missing permission (403)', async () => {
    const anonymous = await send({ path: '/v1/recordings' });
    await expectEvents('GET /v1/recordings', anonymous, 401, [{
      action: 'auth.denied', actorSub: 'anonymous', actorRole: null, tenant: null, outcome: 'denied', details: { reason: 'missing_token' },
    }]);
    const forbidden = await sendJson('agent', 'POST', `/v1/recordings/${first.id}/links`, { reason: 'wants audio' });
    await expectEvents('POST /v1/recordings/{id}/links', forbidden, 403, [{
      action: 'auth.denied', actorSub: 'agent-1', actorRole: 'agent', outcome: 'denied', details: { reason: 'forbidden', permission: 'link:issue' },
    }]);
  });

  test('the export: audit.exported, durable before the first line, so the export carries it', async () => {
    const res = await send({ role: 'compliance', path: '/v1/audit-events?action=audit.exported' });
    await expectEvents('GET /v1/audit-events', res, 200, [{ action: 'audit.exported', actorSub: 'compliance-1', actorRole: 'compliance', details: { format: 'ndjson', action: 'audit.exported' } }]);
    const lines = res.body.toString().trim().split('\n').map((l) => JSON.parse(l) as { requestId?: string; checkpoint?: string });
    // The export's own event, then the checkpoint it is proven against.
    assert.deepEqual(lines.map((l) => l.requestId), [res.headers['x-request-id'], undefined]);
    assert.equal(typeof lines[1]?.checkpoint, 'string');
  });

  test("the tenant log's checkpoints and proofs write nothing; a recording's access history is audit.exported", async () => {
    const history = await send({ role: 'compliance', path: `/v1/recordings/${first.id}/access-history` });
    await expectEvents('GET /v1/recordings/{id}/access-history', history, 200, [{
      action: 'audit.exported', actorSub: 'compliance-1', actorRole: 'compliance', recordingId: first.id, details: { view: 'access-history' },
    }]);
    const size = history.json<{ checkpoint: { size: number } }>().checkpoint.size;
    for (const [route, path] of [
      ['GET /v1/audit-checkpoints/latest', '/v1/audit-checkpoints/latest'], ['GET /v1/audit-checkpoints', `/v1/audit-checkpoints?size=${size}`],
      ['GET /v1/audit-checkpoints/consistency', `/v1/audit-checkpoints/consistency?from=1&to=${size}`],
      ['GET /v1/audit-events/{logSeq}/proof', `/v1/audit-events/1/proof?size=${size}`],
    ] as const) {
      await expectEvents(route, await send({ role: 'compliance', path }), 200, []);
    }
  });

  test('redaction: recording.redacted and original_shredded, four-eyes decisions, sealed-original reads, settings; list reads write nothing', async () => {
    const compliance = { actorSub: 'compliance-1', actorRole: 'compliance' };
    const order = { ranges: [{ startMs: 0, endMs: 5 }], fill: 'silence', reason: 'card number', category: 'pci' };
    const fresh = async (callId: string): Promise<string> => (await uploadAs(callId, tinyWav(callId.length * 7))).json<{ id: string }>().id;
    const pciId = await fresh('ev-redact-pci');
    const pci = await sendJson('compliance', 'POST', `/v1/recordings/${pciId}/redactions`, order);
    await expectEvents('POST /v1/recordings/{id}/redactions', pci, 201, [
      { action: 'recording.redacted', ...compliance, recordingId: pciId, details: { category: 'pci', version: 2, previousKeyDestroyed: true } },
      { action: 'recording.original_shredded', ...compliance, recordingId: pciId, details: { objectDeleted: true, keyDestroyed: true } },
    ]);
    await expectEvents('GET /v1/recordings/{id}/redactions', await send({ role: 'compliance', path: `/v1/recordings/${pciId}/redactions` }), 200, []);

    const settings = await sendJson('admin', 'PUT', '/v1/redaction-settings', { keepPiiOriginal: true });
    await expectEvents('PUT /v1/redaction-settings', settings, 200, [{ action: 'redaction.settings_updated', actorSub: 'admin-1', actorRole: 'admin', details: { keepPiiOriginal: true } }]);
    await expectEvents('GET /v1/redaction-settings', await send({ role: 'admin', path: '/v1/redaction-settings' }), 200, []);
    const piiId = await fresh('ev-redact-pii');
    const pii = await sendJson('compliance', 'POST', `/v1/recordings/${piiId}/redactions`, { ...order, category: 'pii' });
    await expectEvents('POST /v1/recordings/{id}/redactions', pii, 201, [{ action: 'recording.redacted', ...compliance, recordingId: piiId, details: { originalKept: true } }]);
    const redactionId = pii.json<{ id: string }>().id;
    const original = await send({ role: 'compliance', path: `/v1/recordings/${piiId}/redactions/${redactionId}/original` });
    await expectEvents('GET /v1/recordings/{id}/redactions/{redactionId}/original', original, 200, [{ action: 'redaction.original_read', ...compliance, recordingId: piiId, details: { redactionId } }]);

    const pending = async (callId: string): Promise<{ recordingId: string; requestId: string }> => {
      const recordingId = await fresh(callId);
      const r = await vault.deps.redactions.insertRequest({
        id: randomUUID(), tenant: 'acme', recordingId, ranges: order.ranges, fill: 'silence', reason: 'card number', category: 'pci', requestedBy: 'supervisor-9', requestedRole: 'supervisor',
      });
      return { recordingId, requestId: r.id };
    };
    await expectEvents('GET /v1/redaction-requests', await send({ role: 'compliance', path: '/v1/redaction-requests' }), 200, []);
    const toApprove = await pending('ev-redact-approve');
    const approved = await sendJson('compliance', 'POST', `/v1/redaction-requests/${toApprove.requestId}/approve`, {});
    await expectEvents('POST /v1/redaction-requests/{requestId}/approve', approved, 201, [
      { action: 'redaction.approved', ...compliance, recordingId: toApprove.recordingId, details: { requestId: toApprove.requestId, requestedBy: 'supervisor-9' } },
      { action: 'recording.redacted', ...compliance, recordingId: toApprove.recordingId, details: { requestId: toApprove.requestId, requestedBy: 'supervisor-9' } },
      { action: 'recording.original_shredded', ...compliance, recordingId: toApprove.recordingId },
    ]);
    const toRefuse = await pending('ev-redact-refuse');
    const refused = await sendJson('compliance', 'POST', `/v1/redaction-requests/${toRefuse.requestId}/refuse`, { note: 'not card data' });
    await expectEvents('POST /v1/redaction-requests/{requestId}/refuse', refused, 200, [
      { action: 'redaction.refused', ...compliance, recordingId: toRefuse.recordingId, details: { requestId: toRefuse.requestId, note: 'not card data' } },
    ]);
  });

  test('saved searches write nothing; downloads: download.settings_updated, download.issued, media.downloaded', async () => {
    const saved = await sendJson('supervisor', 'POST', '/v1/saved-searches', { name: 'events', query: { agentId: 'agent-1' } });
    await expectEvents('POST /v1/saved-searches', saved, 201, []);
    await expectEvents('GET /v1/saved-searches', await send({ role: 'supervisor', path: '/v1/saved-searches' }), 200, []);
    const del = await send({ role: 'supervisor', method: 'DELETE', path: `/v1/saved-searches/${saved.json<{ id: string }>().id}` });
    await expectEvents('DELETE /v1/saved-searches/{id}', del, 204, []);

    const admin = { actorSub: 'admin-1', actorRole: 'admin' };
    const grant = await sendJson('admin', 'PUT', '/v1/download-settings', { roles: ['supervisor'] });
    await expectEvents('PUT /v1/download-settings', grant, 200, [{ action: 'download.settings_updated', ...admin, details: { before: [], after: ['supervisor'] } }]);
    await expectEvents('GET /v1/download-settings', await send({ role: 'supervisor', path: '/v1/download-settings' }), 200, []);
    const issue = await sendJson('supervisor', 'POST', `/v1/recordings/${first.id}/downloads`, { reason: 'evidence' });
    const downloadLink = issue.json<{ linkId: string; url: string }>();
    await expectEvents('POST /v1/recordings/{id}/downloads', issue, 201, [{
      action: 'download.issued', actorSub: 'supervisor-1', actorRole: 'supervisor', recordingId: first.id, linkId: downloadLink.linkId,
      details: { reason: 'evidence', purpose: 'download' },
    }]);
    const got = await send({ path: new URL(downloadLink.url).pathname, headers: { range: 'bytes=0-99' } });
    await expectEvents('GET /media/{token}', got, 206, [{
      action: 'media.downloaded', actorSub: `link:${downloadLink.linkId}`, actorRole: null, recordingId: first.id, linkId: downloadLink.linkId,
      details: { range: 'bytes=0-99', start: 0, end: 99, issuedBy: 'supervisor-1' },
    }]);
  });

  test('governance reads: held recordings are a recording.listed; matters, the dry run and the verifier key write nothing', async () => {
    const officer = { actorSub: 'compliance-1', actorRole: 'compliance' };
    await expectEvents('GET /v1/legal-holds', await send({ role: 'compliance', path: '/v1/legal-holds' }), 200, []);
    await expectEvents('GET /v1/legal-holds/recordings', await send({ role: 'compliance', path: '/v1/legal-holds/recordings?caseId=CASE-1' }), 200, [
      { action: 'recording.listed', ...officer, details: { source: 'legal_holds', caseId: 'CASE-1' } },
    ]);
    await expectEvents('GET /v1/retention-dry-run', await send({ role: 'admin', path: '/v1/retention-dry-run?until=2030-01-01' }), 200, []);
    await expectEvents('GET /v1/audit-checkpoints/verifier-key', await send({ role: 'compliance', path: '/v1/audit-checkpoints/verifier-key' }), 200, []);
  });

  test('every route and every action of the contract was exercised above', async () => {
    const { secured } = registeredRoutes(vault.app);
    assert.deepEqual([...secured, 'GET /media/{token}'].filter((r) => !covered.has(r)), [], 'routes without an audit check');
    const seen = await vault.deps.db('audit_events').distinct<{ action: string }[]>('action');
    assert.deepEqual(CONTRACT_ACTIONS.filter((a) => !seen.some((s) => s.action === a)), []);
    assert.equal(CONTRACT_ACTIONS.length, 13);
  });
});
