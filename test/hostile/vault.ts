/**
 * The vault the corpus attacks: a real HTTPS vault trusting an external RS256 issuer (so the
 * key-confusion forgery has an RSA public key to abuse), with limits raised far enough that the
 * corpus's own volume never trips the rate limiter, the lockout or the link budget; plus the
 * real things the cases aim at: two recordings, a playback link and a search cursor.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Role } from '../../src/auth/permissions.js';
import { claims, externalIssuerEnv, rsaKeyPair, signJwt, type Claims, type KeyPair } from '../auth/support.js';
import { request } from '../helpers/http.js';
import { fixturePath, startVault, type TestVault } from '../helpers/vault.js';

export const MAX_RECORDING_BYTES = 2 * 1024 * 1024;

export interface HostileVault {
  readonly vault: TestVault;
  readonly issuer: KeyPair;
  /** A token from the trusted issuer with these roles (tenant acme) and any claims overridden. */
  token(roles: Role | readonly Role[], over?: Claims): string;
  readonly tokens: Readonly<Record<Role, string>>;
  readonly recordingId: string;
  readonly callId: string;
  readonly recordingBytes: number;
  /** `/media/<token>` of a multi-use link to the recording. */
  readonly mediaPath: string;
  readonly linkId: string;
  /** A genuine nextCursor of `GET /v1/recordings?limit=1`. */
  readonly cursor: string;
  /** The vault's log, one JSON line each. */
  readonly logLines: string[];
  close(): Promise<void>;
}

const ROLE_LIST: readonly Role[] = ['pbx', 'agent', 'supervisor', 'compliance', 'admin'];

export async function startHostileVault(extraEnv: Record<string, string> = {}): Promise<HostileVault> {
  const issuer = rsaKeyPair();
  const logLines: string[] = [];
  const vault = await startVault({
    env: await externalIssuerEnv(issuer, { LINK_RATE_PER_HOUR: '1000000', MAX_RECORDING_BYTES: String(MAX_RECORDING_BYTES), ...extraEnv }),
    logLines,
  });
  const token = (roles: Role | readonly Role[], over: Claims = {}): string => {
    const list = typeof roles === 'string' ? [roles] : [...roles];
    return signJwt(issuer.privateKey, claims({ roles: list, sub: `${list[0] ?? 'nobody'}-1`, ...over }));
  };
  const tokens = Object.fromEntries(ROLE_LIST.map((r) => [r, token(r)])) as Record<Role, string>;
  const callId = `hostile-seed-${process.pid}`;
  const opus = await readFile(fixturePath('call-16k-mono.opus'));
  const first = await request(vault, { method: 'PUT', path: `/v1/recordings/${callId}.opus`, body: opus, token: tokens.pbx, headers: { 'content-type': 'audio/ogg' } });
  assert.equal(first.status, 201, first.body.toString());
  const mp3 = await readFile(fixturePath('call-8k-mono.mp3'));
  const second = await request(vault, { method: 'PUT', path: `/v1/recordings/${callId}-2.mp3`, body: mp3, token: tokens.pbx, headers: { 'content-type': 'audio/mpeg' } });
  assert.equal(second.status, 201, second.body.toString());
  const recordingId = first.json<{ id: string }>().id;
  const link = await request(vault, {
    method: 'POST', path: `/v1/recordings/${recordingId}/links`, token: tokens.supervisor,
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'hostile input corpus', ttlSeconds: 3600 }),
  });
  assert.equal(link.status, 201, link.body.toString());
  const issued = link.json<{ linkId: string; url: string }>();
  const page = await request(vault, { path: '/v1/recordings?limit=1', token: tokens.supervisor });
  assert.equal(page.status, 200, page.body.toString());
  const cursor = page.json<{ nextCursor: string | null }>().nextCursor;
  assert.ok(cursor, 'two recordings give a second page');
  return {
    vault, issuer, token, tokens, recordingId, callId, recordingBytes: opus.length,
    mediaPath: new URL(issued.url).pathname, linkId: issued.linkId, cursor, logLines,
    close: () => vault.close(),
  };
}
