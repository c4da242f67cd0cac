/**
 * Token forging and assertion helpers for the identity tests. Tokens are assembled by hand
 * (base64url header and payload, signature from node:crypto) so that tests can produce exactly
 * the malformed, downgraded or header-abusing tokens a library's sign() would refuse to make.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { HttpResponse } from '../helpers/http.js';
import { request } from '../helpers/http.js';
import { fixturePath, type TestVault } from '../helpers/vault.js';

export const ISSUER = 'https://idp.example.test/realms/callvault';
export const AUDIENCE = 'callvault-api';

/** Limits that would otherwise cap or lock out the many refusals a test makes from 127.0.0.1. */
export const GENEROUS_LIMITS: Record<string, string> = {
  AUDIT_DENIED_PER_MINUTE: '100000', AUTH_LOCKOUT_FAILURES: '10000', RATE_LIMIT_PER_MINUTE: '1000000',
  RATE_LIMIT_PER_PRINCIPAL_PER_MINUTE: '1000000',
};

export interface KeyPair { readonly privateKey: KeyObject; readonly publicKey: KeyObject; readonly publicPem: string }

export function rsaKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function ecKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export const b64url = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
export const now = (): number => Math.floor(Date.now() / 1000);

export type Claims = Record<string, unknown>;

export function claims(over: Claims = {}): Claims {
  const t = now();
  return { iss: ISSUER, aud: AUDIENCE, sub: 'pbx-1', tenant: 'acme', roles: ['pbx'], iat: t, exp: t + 300, ...over };
}

/** Drops the named claims (for "missing exp", "missing tenant"...). */
export function without(c: Claims, ...names: string[]): Claims {
  const copy = { ...c };
  for (const n of names) delete copy[n];
  return copy;
}

export function signingInput(header: Record<string, unknown>, payload: Claims): string {
  return `${b64url(header)}.${b64url(payload)}`;
}

/** An RS256 (or ES256, for an EC key) signature over whatever header is given, however abusive. */
export function signJwt(key: KeyObject, payload: Claims, header: Record<string, unknown> = {}): string {
  const ec = key.asymmetricKeyType === 'ec';
  const full = { alg: ec ? 'ES256' : 'RS256', typ: 'JWT', ...header };
  const input = signingInput(full, payload);
  const sig = cryptoSign('sha256', Buffer.from(input), ec ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${sig.toString('base64url')}`;
}

/** The classic key-confusion forgery: HMAC keyed with the verifier's own public key PEM. */
export function forgeHmac(secret: string | Buffer, payload: Claims, alg: 'HS256' | 'HS384' | 'HS512' = 'HS256'): string {
  const input = signingInput({ alg, typ: 'JWT' }, payload);
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

export function unsigned(payload: Claims, alg = 'none'): string {
  return `${signingInput({ alg, typ: 'JWT' }, payload)}.`;
}

const scratch: string[] = [];
process.once('exit', () => { for (const dir of scratch) rmSync(dir, { recursive: true, force: true }); });

/** A temporary directory removed when the test process exits. */
export async function scratchDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** Environment for a vault that trusts an external issuer whose public key is in a PEM file. */
export async function externalIssuerEnv(keys: KeyPair, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const dir = await scratchDir('callvault-idp-');
  const file = path.join(dir, 'issuer-public.pem');
  await writeFile(file, keys.publicPem);
  return { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_PUBLIC_KEY_FILE: file, ...GENEROUS_LIMITS, ...extra };
}

let uploadCounter = 0;

/** A real upload (small Ogg/Opus fixture): 201 proves the token and every gate let it through. */
export async function upload(vault: TestVault, token: string | null, headers: Record<string, string> = {}): Promise<HttpResponse> {
  const body = await readFile(fixturePath('call-16k-mono.opus'));
  uploadCounter += 1;
  const auth: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  return request(vault, {
    method: 'PUT', path: `/v1/recordings/auth-probe-${process.pid}-${uploadCounter}.opus`, body,
    headers: { 'content-type': 'audio/ogg', ...auth, ...headers },
  });
}

export interface DeniedRow { request_id: string; action: string; outcome: string; actor_sub: string; tenant: string | null; details: Record<string, unknown> }

export async function deniedEvents(vault: TestVault, requestId: string): Promise<DeniedRow[]> {
  return vault.deps.db<DeniedRow>('audit_events').where({ request_id: requestId, action: 'auth.denied' }).select('*');
}

/**
 * A refusal as the contract has it: the status, problem+json with the given code and a
 * requestId, and one durable `auth.denied` audit event under that requestId naming the reason.
 */
export async function assertDenied(vault: TestVault, res: HttpResponse, status: 401 | 403, code: string): Promise<DeniedRow> {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.body.toString()}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const problem = res.json<{ code: string; status: number; requestId: string; detail: string }>();
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  assert.ok(problem.requestId, 'problem has a requestId');
  assert.equal(res.headers['x-request-id'], problem.requestId);
  const rows = await deniedEvents(vault, problem.requestId);
  assert.equal(rows.length, 1, `one auth.denied event for request ${problem.requestId}`);
  const [row] = rows;
  assert.ok(row);
  assert.equal(row.outcome, 'denied');
  assert.equal(row.details.reason, code);
  return row;
}
