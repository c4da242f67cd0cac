import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import { z } from 'zod';
import { UnauthorizedError } from '../../src/errors.js';
import { createLogger } from '../../src/http/logger.js';
import { problemHandler } from '../../src/http/problem.js';
import { SecureRouter } from '../../src/http/secure-router.js';
import { parseInput } from '../../src/lib/validate.js';

// Shaped like a JWT so the router reaches the verifier; the verifier decides.
const GOOD = 'aaa.bbb.ccc';

function app(seen: unknown[]): express.Express {
  const router = new SecureRouter({
    tokens: { verify: async (t) => { if (t !== GOOD) throw new UnauthorizedError(); return { sub: 'sam', tenant: 'acme', roles: ['supervisor'] }; } },
    audit: { recordDenied: async () => undefined },
  });
  router.route({
    method: 'post', path: '/things', permission: 'link:issue',
    body: z.strictObject({ reason: z.string().min(1), ttlSeconds: z.number().int().max(60).default(30) }),
    query: z.strictObject({ dryRun: z.enum(['yes', 'no']).optional() }),
    handler: async (_req, res, _ctx, input) => {
      seen.push(input);
      res.json({ ttl: input.body.ttlSeconds, dryRun: input.query.dryRun ?? null });
    },
  });
  const a = express();
  a.use(express.json(), router.build());
  a.use(problemHandler(createLogger('silent')));
  return a;
}

describe('route schemas: one validation adapter', () => {
  test('a valid body and query reach the handler parsed, defaults applied', async () => {
    const seen: unknown[] = [];
    const res = await request(app(seen)).post('/things?dryRun=yes').set('Authorization', `Bearer ${GOOD}`).send({ reason: 'qa' }).expect(200);
    assert.deepEqual(res.body, { ttl: 30, dryRun: 'yes' });
    assert.deepEqual(seen, [{ body: { reason: 'qa', ttlSeconds: 30 }, query: { dryRun: 'yes' } }]);
  });

  test('a bad body answers 400 invalid_body naming the field; the handler never runs', async () => {
    const seen: unknown[] = [];
    const res = await request(app(seen)).post('/things').set('Authorization', `Bearer ${GOOD}`).send({ reason: 'qa', ttlSeconds: 600 }).expect(400);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.body.code, 'invalid_body');
    assert.match(res.body.detail, /^ttlSeconds: /);
    const extra = await request(app(seen)).post('/things').set('Authorization', `Bearer ${GOOD}`).send({ reason: 'qa', sneaky: 1 }).expect(400);
    assert.match(extra.body.detail, /^sneaky: /);
    assert.deepEqual(seen, []);
  });

  test('a bad query answers 400 invalid_query', async () => {
    const res = await request(app([])).post('/things?dryRun=maybe').set('Authorization', `Bearer ${GOOD}`).send({ reason: 'qa' }).expect(400);
    assert.equal(res.body.code, 'invalid_query');
    assert.match(res.body.detail, /^dryRun: /);
  });

  test('authentication comes first: an anonymous bad body answers 401, not 400', async () => {
    const res = await request(app([])).post('/things').send({ ttlSeconds: 'x' }).expect(401);
    assert.equal(res.body.code, 'missing_token');
  });

  test('nested paths are named with dots', () => {
    assert.throws(() => parseInput(z.object({ filter: z.object({ tags: z.array(z.string()) }) }), { filter: { tags: [1] } }, { code: 'invalid_body', what: 'body' }),
      (err: Error & { code?: string }) => err.code === 'invalid_body' && /^filter\.tags\.0: /.test(err.message));
  });
});
