import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actorFields, auditActor } from '../../src/audit/actor.js';

test('one actor builder: a request principal acts under its granted role, from its address', () => {
  const actor = auditActor({ principal: { sub: 'sam', actingRole: 'supervisor' }, ip: '192.0.2.7', userAgent: 'ua', requestId: 'r1' });
  assert.deepEqual(actor, { sub: 'sam', role: 'supervisor', ip: '192.0.2.7', userAgent: 'ua', requestId: 'r1' });
  assert.deepEqual(actorFields(actor), { actorSub: 'sam', actorRole: 'supervisor', ip: '192.0.2.7', userAgent: 'ua', requestId: 'r1' });
});

test('workers and the CLI act without a role, address or request', () => {
  assert.deepEqual(auditActor('system:retention'), { sub: 'system:retention', role: null, ip: null, userAgent: null, requestId: null });
  assert.equal(auditActor('cli:root').sub, 'cli:root');
});
