import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Permission, Role } from '../../src/auth/permissions.js';
import { SecureRouter, type SecuredRoute } from '../../src/http/secure-router.js';
import { registeredRoutes } from '../helpers/routes.js';
import { startVault, type TestVault } from '../helpers/vault.js';
import { auditRows, call, issueLink, tinyWav, upload, type IssuedLink, type Receipt } from './support.js';
import { multipartUpload } from '../helpers/http.js';

/**
 * The role table of the contract, written out here rather than imported, so that a change to
 * src/auth/permissions.ts that widens a role fails this test.
 */
const ROLES: readonly Role[] = ['pbx', 'agent', 'supervisor', 'compliance', 'admin'];

interface RouteCase {
  readonly name: string;
  readonly allowed: readonly Role[];
  readonly success: number;
  send(token: string | undefined, role: Role): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }>;
}

describe('role matrix over every route', () => {
  let vault: TestVault;
  let recording: Receipt;
  let link: IssuedLink;
  let seed = 1000;
  const tokens = new Map<Role, string>();

  before(async () => {
    // Every route is also called without credentials: more 401s from one address than the default lockout allows.
    vault = await startVault({ env: { AUTH_LOCKOUT_FAILURES: '1000' } });
    for (const role of ROLES) tokens.set(role, await vault.token(role, { sub: `${role}-1` }));
    recording = await upload(vault, tokens.get('pbx') ?? '', 'matrix-base', tinyWav(1), { agentId: 'agent-1', from: '+14155550100' });
    link = await issueLink(vault, tokens.get('supervisor') ?? '', recording.id);
  });
  after(async () => { await vault.close(); });

  const json = { 'content-type': 'application/json' };
  const routes: RouteCase[] = [
    {
      name: 'PUT /v1/recordings/{callId}', allowed: ['pbx'], success: 201,
      send: (token) => call(vault, { method: 'PUT', path: `/v1/recordings/m-${seed++}.wav`, body: tinyWav(seed), token }),
    },
    {
      name: 'POST /v1/recordings', allowed: ['pbx'], success: 201,
      send: (token) => {
        const form = multipartUpload(`mp-${seed++}`, tinyWav(seed));
        return call(vault, { method: 'POST', path: '/v1/recordings', body: form.body, headers: { 'content-type': form.type }, token });
      },
    },
    {
      name: 'GET /v1/recordings', allowed: ['agent', 'supervisor', 'compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/recordings', token }),
    },
    {
      name: 'GET /v1/recordings/{id}', allowed: ['pbx', 'agent', 'supervisor', 'compliance'], success: 200,
      send: (token) => call(vault, { path: `/v1/recordings/${recording.id}`, token }),
    },
    {
      name: 'GET /v1/recordings/{id}/peaks', allowed: ['agent', 'supervisor', 'compliance'], success: 200,
      send: (token) => call(vault, { path: `/v1/recordings/${recording.id}/peaks`, token }),
    },
    {
      name: 'POST /v1/recordings/{id}/links', allowed: ['supervisor'], success: 201,
      send: (token) => call(vault, { method: 'POST', path: `/v1/recordings/${recording.id}/links`, headers: json, body: '{"reason":"matrix check"}', token }),
    },
    {
      name: 'DELETE /v1/links/{linkId}', allowed: ['supervisor'], success: 204,
      send: (token) => call(vault, { method: 'DELETE', path: `/v1/links/${link.linkId}`, token }),
    },
    {
      name: 'PUT /v1/recordings/{id}/legal-hold', allowed: ['compliance'], success: 200,
      send: async (token) => sendJson('PUT', `/v1/recordings/${(await fresh()).id}/legal-hold`, token, { reason: 'matrix hold', caseId: 'CASE-M' }),
    },
    {
      name: 'DELETE /v1/recordings/{id}/legal-hold', allowed: ['compliance'], success: 204,
      send: async (token) => {
        const held = await fresh();
        await sendJson('PUT', `/v1/recordings/${held.id}/legal-hold`, tokens.get('compliance'), { reason: 'to be released' });
        return sendJson('DELETE', `/v1/recordings/${held.id}/legal-hold`, token, { reason: 'matrix release' });
      },
    },
    {
      name: 'POST /v1/legal-holds', allowed: ['compliance'], success: 200,
      send: async (token) => sendJson('POST', '/v1/legal-holds', token, { reason: 'matrix bulk hold', caseId: `CASE-${seed}`, filter: { callId: (await fresh()).callId } }),
    },
    {
      name: 'GET /v1/legal-holds', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/legal-holds', token }),
    },
    {
      name: 'GET /v1/legal-holds/recordings', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/legal-holds/recordings?limit=5', token }),
    },
    {
      name: 'GET /v1/retention-dry-run', allowed: ['admin'], success: 200,
      send: (token) => call(vault, { path: '/v1/retention-dry-run?until=2030-01-01', token }),
    },
    {
      name: 'GET /v1/audit-checkpoints/verifier-key', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/audit-checkpoints/verifier-key', token }),
    },
    {
      name: 'POST /v1/legal-holds/release', allowed: ['compliance'], success: 200,
      send: (token) => sendJson('POST', '/v1/legal-holds/release', token, { caseId: 'CASE-M', reason: 'matrix case closed' }),
    },
    {
      name: 'DELETE /v1/recordings/{id}', allowed: ['compliance'], success: 204,
      send: async (token) => call(vault, { method: 'DELETE', path: `/v1/recordings/${(await fresh()).id}?reason=matrix`, token }),
    },
    {
      name: 'POST /v1/erasures', allowed: ['compliance'], success: 200,
      send: async (token) => {
        const subject = `+1415555${String(seed++).padStart(4, '0')}`;
        await fresh({ from: subject });
        return sendJson('POST', '/v1/erasures', token, { phone: subject, reason: 'data subject request' });
      },
    },
    {
      name: 'GET /v1/retention-policies', allowed: ['admin'], success: 200,
      send: (token) => call(vault, { path: '/v1/retention-policies', token }),
    },
    {
      name: 'PUT /v1/retention-policies/{name}', allowed: ['admin'], success: 201,
      send: (token) => sendJson('PUT', `/v1/retention-policies/matrix-${seed++}`, token, { retain: 'P90D' }),
    },
    {
      name: 'GET /v1/tenant-settings', allowed: ['admin'], success: 200,
      send: (token) => call(vault, { path: '/v1/tenant-settings', token }),
    },
    {
      name: 'PUT /v1/tenant-settings', allowed: ['admin'], success: 200,
      send: (token) => sendJson('PUT', '/v1/tenant-settings', token, { defaultPolicy: null }),
    },
    {
      name: 'POST /v1/keys/rotate', allowed: ['admin'], success: 200,
      send: (token) => sendJson('POST', '/v1/keys/rotate', token, {}),
    },
    {
      name: 'GET /v1/audit-events', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/audit-events?action=recording.uploaded', token }),
    },
    {
      name: 'GET /v1/saved-searches', allowed: ['agent', 'supervisor', 'compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/saved-searches', token }),
    },
    {
      name: 'POST /v1/saved-searches', allowed: ['agent', 'supervisor', 'compliance'], success: 201,
      send: (token) => sendJson('POST', '/v1/saved-searches', token, { name: `matrix-${seed++}`, query: { direction: 'inbound' } }),
    },
    {
      name: 'DELETE /v1/saved-searches/{id}', allowed: ['agent', 'supervisor', 'compliance'], success: 204,
      send: async (token) => {
        const made = await sendJson('POST', '/v1/saved-searches', token, { name: `matrix-${seed++}`, query: {} });
        const id = made.status === 201 ? (JSON.parse(made.body.toString()) as { id: string }).id : randomUUID();
        return call(vault, { method: 'DELETE', path: `/v1/saved-searches/${id}`, token });
      },
    },
    {
      name: 'GET /v1/download-settings', allowed: ['agent', 'supervisor', 'compliance', 'admin'], success: 200,
      send: (token) => call(vault, { path: '/v1/download-settings', token }),
    },
    {
      name: 'PUT /v1/download-settings', allowed: ['admin'], success: 200,
      send: (token) => sendJson('PUT', '/v1/download-settings', token, { roles: ['agent', 'supervisor', 'compliance'] }),
    },
    {
      // The role table lets every viewer ask; the tenant's download setting (all three, here) decides.
      name: 'POST /v1/recordings/{id}/downloads', allowed: ['agent', 'supervisor', 'compliance'], success: 201,
      send: async (token) => {
        await sendJson('PUT', '/v1/download-settings', tokens.get('admin'), { roles: ['agent', 'supervisor', 'compliance'] });
        return sendJson('POST', `/v1/recordings/${recording.id}/downloads`, token, { reason: 'matrix download' });
      },
    },
    {
      name: 'GET /v1/recordings/{id}/access-history', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: `/v1/recordings/${recording.id}/access-history`, token }),
    },
    {
      name: 'GET /v1/audit-checkpoints/latest', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/audit-checkpoints/latest', token }),
    },
    {
      name: 'GET /v1/audit-checkpoints', allowed: ['compliance'], success: 200,
      send: async (token) => {
        const log = await vault.deps.auditLogs.find('acme');
        const size = log ? (await vault.deps.checkpoints.latest(log.logId))?.size : undefined;
        return call(vault, { path: `/v1/audit-checkpoints?size=${size ?? 1}`, token });
      },
    },
    {
      name: 'GET /v1/audit-checkpoints/consistency', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/audit-checkpoints/consistency?from=1&to=2', token }),
    },
    {
      name: 'GET /v1/audit-events/{logSeq}/proof', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/audit-events/1/proof?size=2', token }),
    },
    {
      name: 'POST /v1/recordings/{id}/redactions', allowed: ['compliance'], success: 201,
      send: async (token) => sendJson('POST', `/v1/recordings/${(await fresh()).id}/redactions`, token, redactionOrder),
    },
    {
      name: 'GET /v1/recordings/{id}/redactions', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: `/v1/recordings/${recording.id}/redactions`, token }),
    },
    {
      name: 'GET /v1/recordings/{id}/redactions/{redactionId}/original', allowed: ['compliance'], success: 200,
      send: async (token) => {
        const r = await fresh();
        await sendJson('PUT', '/v1/redaction-settings', tokens.get('admin'), { keepPiiOriginal: true });
        const redacted = await sendJson('POST', `/v1/recordings/${r.id}/redactions`, tokens.get('compliance'), { ...redactionOrder, category: 'pii' });
        return call(vault, { path: `/v1/recordings/${r.id}/redactions/${JSON.parse(redacted.body.toString()).id as string}/original`, token });
      },
    },
    {
      name: 'GET /v1/redaction-requests', allowed: ['compliance'], success: 200,
      send: (token) => call(vault, { path: '/v1/redaction-requests', token }),
    },
    {
      name: 'POST /v1/redaction-requests/{requestId}/approve', allowed: ['compliance'], success: 201,
      send: async (token) => sendJson('POST', `/v1/redaction-requests/${await pendingRequest()}/approve`, token, {}),
    },
    {
      name: 'POST /v1/redaction-requests/{requestId}/refuse', allowed: ['compliance'], success: 200,
      send: async (token) => sendJson('POST', `/v1/redaction-requests/${await pendingRequest()}/refuse`, token, {}),
    },
    {
      name: 'GET /v1/redaction-settings', allowed: ['admin'], success: 200,
      send: (token) => call(vault, { path: '/v1/redaction-settings', token }),
    },
    {
      name: 'PUT /v1/redaction-settings', allowed: ['admin'], success: 200,
      send: (token) => sendJson('PUT', '/v1/redaction-settings', token, { keepPiiOriginal: true }),
    },
  ];

  const redactionOrder = { ranges: [{ startMs: 0, endMs: 5 }], fill: 'silence', reason: 'matrix check', category: 'pci' };

  /** A pending four-eyes request by another user (this vault runs without four-eyes, so it is stored directly). */
  async function pendingRequest(): Promise<string> {
    const r = await fresh();
    const request = await vault.deps.redactions.insertRequest({
      id: randomUUID(), tenant: 'acme', recordingId: r.id, ranges: [{ startMs: 0, endMs: 5 }], fill: 'silence', reason: 'matrix', category: 'pci',
      requestedBy: 'supervisor-2', requestedRole: 'supervisor',
    });
    return request.id;
  }

  /** A new recording of this tenant, for routes that change or erase the one they are given. */
  async function fresh(meta: Record<string, string> = {}): Promise<Receipt> {
    seed += 1;
    return upload(vault, tokens.get('pbx') ?? '', `matrix-${seed}`, tinyWav(seed), meta);
  }

  function sendJson(method: string, path: string, token: string | undefined, body: unknown) {
    return call(vault, { method, path, token, headers: json, body: JSON.stringify(body) });
  }

  test('the matrix names every route the application registers, and only those', () => {
    const { secured, open } = registeredRoutes(vault.app);
    assert.deepEqual(secured, routes.map((r) => r.name).sort());
    // Routes outside the SecureRouter take no bearer token: a new one must be added here on purpose.
    assert.deepEqual(open, ['GET /healthz', 'GET /media/{token}', 'GET /metrics', 'GET /openapi.yaml', 'GET /readyz']);
  });

  for (const route of routes) {
    for (const role of ROLES) {
      const allowed = route.allowed.includes(role);
      test(`${route.name} as ${role} → ${allowed ? route.success : 403}`, async () => {
        const res = await route.send(tokens.get(role), role);
        if (allowed) {
          assert.equal(res.status, route.success, res.body.toString());
          return;
        }
        assert.equal(res.status, 403, res.body.toString());
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        const problem = JSON.parse(res.body.toString()) as { code: string; requestId: string };
        assert.equal(problem.code, 'forbidden');
        const [denied] = await auditRows(vault, { action: 'auth.denied', request_id: problem.requestId });
        assert.ok(denied, 'the refusal is audited');
        assert.equal(denied.actor_sub, `${role}-1`);
        assert.equal(denied.tenant, 'acme');
        assert.equal(denied.outcome, 'denied');
      });
    }
    test(`${route.name} without credentials → 401`, async () => {
      const res = await route.send(undefined, 'admin');
      assert.equal(res.status, 401);
    });
  }

  test('a pbx reads the receipt of its own upload only, and only receipt fields', async () => {
    const own = await call(vault, { path: `/v1/recordings/${recording.id}`, token: tokens.get('pbx') });
    assert.equal(own.status, 200);
    const body = own.json();
    assert.deepEqual(Object.keys(body).sort(), ['callId', 'contentType', 'createdAt', 'id', 'legalHold', 'policy', 'retainUntil', 'sha256', 'sizeBytes', 'version']);
    const other = await call(vault, { path: `/v1/recordings/${recording.id}`, token: await vault.token('pbx', { sub: 'pbx-2' }) });
    assert.equal(other.status, 404);
    const [viewed] = await auditRows(vault, { action: 'recording.viewed', request_id: String(own.headers['x-request-id']) });
    assert.equal(viewed?.details.view, 'receipt');
  });

  test('a principal holding pbx and supervisor gets the full view', async () => {
    const both = await vault.token(['pbx', 'supervisor'], { sub: 'dual-1' });
    const res = await call(vault, { path: `/v1/recordings/${recording.id}`, token: both });
    assert.equal(res.status, 200);
    assert.equal(res.json().agentId, 'agent-1');
  });
});

describe('tenancy and agent scope', () => {
  let vault: TestVault;
  let acme: Receipt;
  let acmeOther: Receipt;
  let link: IssuedLink;

  before(async () => {
    vault = await startVault();
    const pbx = await vault.token('pbx');
    acme = await upload(vault, pbx, 'tenancy-1', tinyWav(1), { agentId: 'agent-1' });
    acmeOther = await upload(vault, pbx, 'tenancy-2', tinyWav(2), { agentId: 'agent-2' });
    link = await issueLink(vault, await vault.token('supervisor'), acme.id);
  });
  after(async () => { await vault.close(); });

  const problemOf = (res: { body: Buffer }): Record<string, unknown> => {
    const { requestId: _r, ...rest } = JSON.parse(res.body.toString()) as Record<string, unknown>;
    return rest;
  };

  test('another tenant\'s recording answers 404 exactly like a missing or malformed id', async () => {
    for (const role of ['supervisor', 'compliance', 'agent'] as const) {
      const globex = await vault.token(role, { tenant: 'globex', sub: 'agent-1' });
      const cross = await call(vault, { path: `/v1/recordings/${acme.id}`, token: globex });
      const missing = await call(vault, { path: `/v1/recordings/${randomUUID()}`, token: globex });
      const malformed = await call(vault, { path: '/v1/recordings/not-a-uuid', token: globex });
      assert.equal(cross.status, 404);
      assert.deepEqual(problemOf(cross), problemOf(missing));
      assert.deepEqual(problemOf(cross), problemOf(malformed));
      const list = await call(vault, { path: '/v1/recordings', token: globex });
      assert.deepEqual(list.json().items, []);
    }
  });

  test('another tenant cannot issue or revoke links on this tenant\'s recordings', async () => {
    const globex = await vault.token('supervisor', { tenant: 'globex' });
    const issue = await call(vault, {
      method: 'POST', path: `/v1/recordings/${acme.id}/links`, token: globex,
      headers: { 'content-type': 'application/json' }, body: '{"reason":"cross-tenant attempt"}',
    });
    assert.equal(issue.status, 404);
    const revoke = await call(vault, { method: 'DELETE', path: `/v1/links/${link.linkId}`, token: globex });
    assert.equal(revoke.status, 404);
    const missing = await call(vault, { method: 'DELETE', path: `/v1/links/${randomUUID()}`, token: globex });
    assert.deepEqual(problemOf(revoke), problemOf(missing));
    const [row] = await vault.deps.db('links').where({ id: link.linkId });
    assert.equal(row.revoked_at, null, 'the link is still live');
    const play = await call(vault, { path: new URL(link.url).pathname, headers: { 'user-agent': 'ua' } });
    assert.equal(play.status, 200);
  });

  test('a deleted recording answers 404 to readers and to link issuers', async () => {
    const pbx = await vault.token('pbx');
    const gone = await upload(vault, pbx, 'tenancy-gone', tinyWav(3));
    await vault.deps.db('recordings').where({ id: gone.id }).update({ status: 'deleted', deleted_at: new Date() });
    const sup = await vault.token('supervisor');
    assert.equal((await call(vault, { path: `/v1/recordings/${gone.id}`, token: sup })).status, 404);
    const issue = await call(vault, {
      method: 'POST', path: `/v1/recordings/${gone.id}/links`, token: sup,
      headers: { 'content-type': 'application/json' }, body: '{"reason":"after deletion"}',
    });
    assert.equal(issue.status, 404);
    const list = await call(vault, { path: '/v1/recordings?callId=tenancy-gone', token: sup });
    assert.deepEqual(list.json().items, []);
  });

  test('an agent sees only recordings whose agentId is its sub, whatever it asks for', async () => {
    const agent = await vault.token('agent', { sub: 'agent-1' });
    const list = await call(vault, { path: '/v1/recordings', token: agent });
    assert.deepEqual(list.json<{ items: { id: string }[] }>().items.map((i) => i.id), [acme.id]);
    const asked = await call(vault, { path: '/v1/recordings?agentId=agent-2', token: agent });
    assert.deepEqual(asked.json().items, []);
    assert.equal((await call(vault, { path: `/v1/recordings/${acme.id}`, token: agent })).status, 200);
    assert.equal((await call(vault, { path: `/v1/recordings/${acmeOther.id}`, token: agent })).status, 404);
    const issue = await call(vault, {
      method: 'POST', path: `/v1/recordings/${acme.id}/links`, token: agent,
      headers: { 'content-type': 'application/json' }, body: '{"reason":"agent wants audio"}',
    });
    assert.equal(issue.status, 403);
  });
});

describe('every route declares a permission', () => {
  const router = (): SecureRouter => new SecureRouter({
    tokens: { verify: () => Promise.reject(new Error('not called')) },
    audit: { recordDenied: () => Promise.resolve() },
  });
  const handler: SecuredRoute['handler'] = async () => undefined;

  test('SecureRouter refuses a route without a permission, with an empty list, or with one no role holds', () => {
    const missing = { method: 'get', path: '/v1/unguarded', handler } as unknown as SecuredRoute;
    assert.throws(() => router().route(missing), /GET \/v1\/unguarded declares no grantable permission/);
    assert.throws(() => router().route({ method: 'get', path: '/v1/empty', permission: [], handler }), /declares no grantable permission/);
    const unheld = 'recording:everything' as Permission;
    assert.throws(() => router().route({ method: 'post', path: '/v1/odd', permission: ['recording:list', unheld], handler }), /declares no grantable permission/);
    assert.doesNotThrow(() => router().route({ method: 'get', path: '/v1/fine', permission: 'recording:list', handler }));
  });
});
