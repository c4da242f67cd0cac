/**
 * A small JWKS endpoint standing in for an identity provider: it serves the public keys it is
 * given, counts fetches, and can rotate keys or fail on demand.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function newSigningKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): SigningKey {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg, ...pair };
}

export interface JwksServer {
  readonly uri: string;
  /** JWKS documents served so far. */
  readonly fetches: number;
  /** Replaces the published keys (a rotation publishes new and old, then drops the old). */
  publish(keys: readonly SigningKey[], extra?: ReadonlyArray<Record<string, unknown>>): void;
  /** While false, the endpoint answers 503. */
  setAvailable(available: boolean): void;
  close(): Promise<void>;
}

export async function startJwksServer(initial: readonly SigningKey[]): Promise<JwksServer> {
  let doc = '';
  let fetches = 0;
  let available = true;
  const publish = (keys: readonly SigningKey[], extra: ReadonlyArray<Record<string, unknown>> = []): void => {
    doc = JSON.stringify({ keys: [...keys.map((k) => ({ ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, alg: k.alg, use: 'sig' })), ...extra] });
  };
  publish(initial);
  const server = http.createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') { res.writeHead(404).end(); return; }
    fetches += 1;
    if (!available) { res.writeHead(503).end('down'); return; }
    res.writeHead(200, { 'content-type': 'application/json' }).end(doc);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    uri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() { return fetches; },
    publish,
    setAvailable: (a) => { available = a; },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
