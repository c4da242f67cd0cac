import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'express';
import { consoleMfaGate } from '../../src/auth/mfa-gate.js';
import type { RequestContext } from '../../src/auth/context.js';
import { isMfaSession } from '../../src/console/cookie-auth.js';
import { AppError } from '../../src/errors.js';

/** What counts as a multi-factor console sign-in, and whom the link-issuance gate refuses. */
test('amr with mfa, otp or hwk, or an acr the operator lists, is a multi-factor sign-in; nothing else is', () => {
  const acrs = ['urn:example:loa:3'];
  for (const amr of [['pwd', 'mfa'], ['otp'], ['hwk', 'pop']]) assert.equal(isMfaSession({ amr, acr: null }, acrs), true, amr.join());
  assert.equal(isMfaSession({ amr: [], acr: 'urn:example:loa:3' }, acrs), true);
  for (const [amr, acr] of [[['pwd'], null], [['pwd', 'sms-like'], 'urn:example:loa:2'], [[], 'mfa']] as const) {
    assert.equal(isMfaSession({ amr, acr }, acrs), false, `${amr.join()} ${acr}`);
  }
});

test('the gate refuses only console sessions without MFA, with 403 mfa_required; off, it does not exist', () => {
  const gate = consoleMfaGate(true);
  assert.ok(gate);
  const base: RequestContext = { principal: { sub: 's', tenant: 't', roles: ['supervisor'] }, requestId: 'r', ip: '127.0.0.1', userAgent: null };
  const req = {} as Request;
  gate(req, base);
  gate(req, { ...base, consoleSession: { id: 'x', mfa: true } });
  assert.throws(() => gate(req, { ...base, consoleSession: { id: 'x', mfa: false } }), (err: unknown) => err instanceof AppError && err.status === 403 && err.code === 'mfa_required');
  assert.equal(consoleMfaGate(false), undefined);
});
