import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { CONSOLE_PAGES } from '../../src/console/pages.js';
import { request } from '../helpers/http.js';
import { contract, METHODS, OPENAPI_FILE, assertContract } from '../helpers/openapi.js';
import { startVault, type TestVault } from '../helpers/vault.js';

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every (method, path) the Express app answers, with `:param` written `{}`. */
function appRoutes(app: unknown): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]): void => {
    for (const layer of stack) {
      if (layer.route && typeof layer.route.path === 'string') {
        for (const method of Object.keys(layer.route.methods)) out.push(`${method} ${layer.route.path.replace(/:\w+/g, '{}')}`);
      } else if (Array.isArray(layer.handle?.stack)) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as { router: { stack: Layer[] } }).router.stack);
  return out;
}

describe('openapi.yaml', () => {
  let vault: TestVault;
  before(async () => { vault = await startVault(); });
  after(async () => { await vault.close(); });

  test('is OpenAPI 3.1.0 and every component schema compiles as JSON Schema 2020-12', () => {
    const c = contract();
    assert.equal(c.doc.openapi, '3.1.0');
    assert.ok(Object.keys(c.doc.components.schemas).length > 0);
    assert.ok(c.compileAll() > 10);
  });

  test('documents every route the application serves', () => {
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(contract().doc.paths)) {
      for (const method of METHODS) if (method in item) documented.add(`${method} ${path.replace(/\{[^}]+\}/g, '{}')}`);
    }
    // Console pages are HTML shells listed in src/console/pages*.ts, described once under the console tag.
    for (const page of CONSOLE_PAGES) documented.add(`get /console${page.path.replace(/:\w+/g, '{}')}`);
    const missing = appRoutes(vault.app).filter((r) => !documented.has(r));
    assert.deepEqual(missing, [], 'routes missing from openapi.yaml');
  });

  test('every secured operation names its roles and documents 401 and 403', () => {
    const doc = contract().doc;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        const op = item[method] as { security?: unknown[]; description?: string; responses: Record<string, unknown> } | undefined;
        // Operations that declare their own security without bearerAuth (none, or the metrics token) have no roles.
        if (!op || (Array.isArray(op.security) && !op.security.some((s) => typeof s === 'object' && s !== null && 'bearerAuth' in s))) continue;
        assert.match(op.description ?? '', /Roles?:/, `${method} ${path} names its roles`);
        assert.ok(op.responses['401'] && op.responses['403'], `${method} ${path} documents 401 and 403`);
      }
    }
  });

  test('is served at GET /openapi.yaml', async () => {
    const res = await request(vault, { path: '/openapi.yaml' });
    assertContract('GET', '/openapi.yaml', res);
    assert.equal(res.body.toString('utf8'), await readFile(OPENAPI_FILE, 'utf8'));
  });

  test('operations endpoints answer as documented', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await request(vault, { path });
      assert.equal(res.status, 200, path);
      assertContract('GET', path, res);
    }
  });

  test('the contract checker rejects what the contract does not allow', () => {
    const view = { status: 200, headers: { 'content-type': 'application/json' } };
    assert.throws(() => assertContract('GET', '/healthz', { ...view, status: 418, body: Buffer.from('{}') }), /not documented/);
    assert.throws(() => assertContract('GET', '/healthz', { ...view, body: Buffer.from('{"status":"maybe"}') }), /does not match/);
    assert.throws(() => assertContract('GET', '/nowhere', { ...view, body: Buffer.from('{}') }), /not in openapi.yaml/);
    const page = { items: [{ id: 'x' }], nextCursor: null };
    assert.throws(() => assertContract('GET', '/v1/recordings', { ...view, body: Buffer.from(JSON.stringify(page)) }), /does not match/);
  });
});
