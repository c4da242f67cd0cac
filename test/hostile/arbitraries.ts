/**
 * fast-check generators for the generated half of the corpus: request targets, query strings,
 * Range headers, JSON bodies, tokens, multipart bodies and headers, each biased towards the
 * shapes that break parsers (separators, dots, NUL, lone surrogates, invalid UTF-8, huge
 * numbers) while still producing valid requests often enough to reach the deep code paths.
 */
import fc from 'fast-check';
import { b64url, forgeHmac, now, signJwt, signingInput, AUDIENCE, ISSUER } from '../auth/support.js';
import type { HeaderList } from './corpus.js';
import { multipartBody, type Part } from './cases/build.js';
import type { HostileVault } from './vault.js';

export function percentBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
}

/** encodeURIComponent, falling back to the UTF-8 bytes for strings it refuses (lone surrogates). */
export function encodeLoose(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return percentBytes(Buffer.from(s, 'utf8'));
  }
}

const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.constantFrom('\u0000', '\ud800', '\udfff', '../..', '%00', '\u202e', '\uFEFF', "' OR 1=1 --", '${jndi:ldap://x}', '<script>'),
);

/** A piece of a URL path or query, percent-encoded well, badly or not at all. */
const urlPiece = fc.oneof(
  fc.constantFrom('/', '\\', '..', '.', '%2F', '%2f', '%5C', '%2e', '%2E%2E', '%00', '%', '%zz', '%FF', '%C0%AE', '%ED%A0%80', '?', '#', ';', '%0D%0A', '~', '@', '+', '&', '='),
  hostileText.map(encodeLoose),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map(percentBytes),
  fc.stringMatching(/^[A-Za-z0-9._:@+=-]{1,24}$/),
);

/** Raw bytes for a request target: anything but CR and LF, which would end the request line. */
const rawTargetBytes = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b.filter((x) => x !== 0x0a && x !== 0x0d)));

export const identifier: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.array(urlPiece, { minLength: 1, maxLength: 10 }).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: fc.integer({ min: 201, max: 12_000 }).map((n) => 'c'.repeat(n)) },
  { weight: 2, arbitrary: rawTargetBytes },
);

export function target(prefix: string, id: string | Buffer): string | Buffer {
  return typeof id === 'string' ? `${prefix}${id}` : Buffer.concat([Buffer.from(prefix), id]);
}

const bigNumber = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String);
const instantText = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '+275760-09-13T00:00:00Z', '2024-02-30T00:00:00Z', '2024-13-01T00:00:00Z', '1970-01-01T00:00:00.000000001Z', '2024-01-01T00:00:00+24:00', 'Invalid Date'),
);

function mutate(text: string): fc.Arbitrary<string> {
  return fc.tuple(fc.nat({ max: Math.max(0, text.length - 1) }), fc.constantFrom('A', '_', '-', '.', '=', '%', '\u0000', 'é')).map(([i, ch]) => `${text.slice(0, i)}${ch}${text.slice(i + 1)}`);
}

export function searchQuery(h: HostileVault): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('startedAfter', 'startedBefore', 'from', 'to', 'phone', 'agentId', 'callId', 'direction', 'tags', 'tag', 'limit', 'cursor') },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );
  const value = fc.oneof(
    fc.constantFrom('', '0', '-1', '1', '500', '501', '1e3', 'NaN', 'Infinity', 'inbound', 'sideways', '+15551230000', 'vip,billing', h.cursor, `${h.cursor}.x`),
    mutate(h.cursor), instantText, bigNumber, hostileText,
  );
  const pair = fc.tuple(key, value, fc.boolean()).map(([k, v, latin1]) => `${encodeLoose(k)}=${latin1 ? percentBytes(Buffer.from(v, 'latin1')) : encodeLoose(v)}`);
  return fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join('&'));
}

export function rangeHeader(size: number): fc.Arbitrary<string> {
  const position = fc.oneof(fc.nat({ max: size * 2 }), fc.constant(''), bigNumber, fc.constantFrom(String(size), String(size - 1), '00', '0x10', '1e3', ' 5'));
  const spec = fc.oneof(fc.tuple(position, position).map(([a, b]) => `${a}-${b}`), fc.string({ unit: 'binary-ascii', maxLength: 8 }));
  return fc.oneof(
    fc.array(spec, { minLength: 1, maxLength: 6 }).map((specs) => `bytes=${specs.join(',')}`),
    fc.tuple(fc.constantFrom('bytes', 'Bytes', 'BYTES', 'items', '', 'bytes '), fc.constantFrom('=', ' = ', ':', ''), fc.array(spec, { maxLength: 3 }))
      .map(([unit, eq, specs]) => `${unit}${eq}${specs.join(',')}`),
    fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  ).map((v) => v.replace(/[\r\n]/g, ''));
}

const anyJson = fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' });

export const linkBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.record({
    reason: fc.oneof(hostileText, fc.string({ minLength: 3, maxLength: 600 }), anyJson),
    ttlSeconds: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, 1, 3600, 3601, 1e21), anyJson),
    singleUse: fc.oneof(fc.boolean(), anyJson),
    extra: anyJson,
  }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
  anyJson.map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
);

const durationText = fc.oneof(
  fc.tuple(
    fc.constantFrom('P', 'p', '', 'PT', 'P-', 'P+', 'R1/P', 'P1Y', '-P'),
    fc.array(fc.tuple(fc.oneof(bigNumber, fc.nat({ max: 100_000 }).map(String), fc.double().map(String), fc.constant('')), fc.constantFrom('Y', 'M', 'W', 'D', 'T', 'H', 'S', '', ',5')), { maxLength: 5 }),
  ).map(([p, parts]) => `${p}${parts.map(([n, u]) => `${n}${u}`).join('')}`),
  fc.constantFrom('P99999Y', 'PT0S', 'P-1D', 'P', '90D', 'P101Y', 'PT2S', 'P90D', 'P6Y', 'P36601D'),
  hostileText,
);

export const policyBody: fc.Arbitrary<string> = fc.oneof(
  fc.record({ retain: fc.oneof({ weight: 4, arbitrary: durationText }, { weight: 1, arbitrary: anyJson }), description: fc.oneof(hostileText, anyJson), extra: anyJson }, { requiredKeys: [] })
    .map((b) => JSON.stringify(b)),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

export const policyName: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/),
  fc.array(urlPiece, { minLength: 1, maxLength: 4 }).map((p) => p.join('')),
  fc.integer({ min: 60, max: 300 }).map((n) => 'p'.repeat(n)),
);

export function bearerToken(h: HostileVault): fc.Arbitrary<string> {
  const value = fc.oneof(hostileText, fc.integer(), fc.constant(null), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), fc.boolean(), fc.double());
  const t = now();
  const claims = fc.record({
    iss: fc.oneof(fc.constant(ISSUER), value), aud: fc.oneof(fc.constant(AUDIENCE), value), sub: fc.oneof(fc.constant('supervisor-1'), value),
    tenant: fc.oneof(fc.constant('acme'), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/), value),
    roles: fc.oneof(fc.constant(['supervisor']), fc.array(fc.constantFrom('pbx', 'agent', 'supervisor', 'compliance', 'admin', 'root', ''), { maxLength: 4 }), value),
    exp: fc.oneof(fc.constant(t + 300), fc.integer({ min: t - 10_000, max: t + 10_000 }), value),
    nbf: fc.oneof(fc.integer({ min: t - 10_000, max: t + 10_000 }), value), iat: fc.oneof(fc.integer(), value),
  }, { requiredKeys: [] });
  const header = fc.record({ alg: fc.oneof(fc.constantFrom('RS256', 'none', 'HS256', 'ES256', 'PS256', 'RS512', 'NONE'), value), typ: value, kid: value, jku: value, crit: value }, { requiredKeys: [] });
  const base = h.tokens.supervisor;
  return fc.oneof(
    claims.map((c) => signJwt(h.issuer.privateKey, c)),
    fc.tuple(header, claims, fc.uint8Array({ maxLength: 300 })).map(([hd, c, sig]) => `${signingInput(hd, c)}.${Buffer.from(sig).toString('base64url')}`),
    claims.map((c) => forgeHmac(h.issuer.publicPem, c)),
    mutate(base),
    fc.tuple(fc.nat({ max: base.length }), fc.nat({ max: base.length })).map(([a, b]) => base.slice(Math.min(a, b), Math.max(a, b))),
    fc.array(fc.constantFrom(...base.split('.'), b64url('{}'), ''), { maxLength: 5 }).map((parts) => parts.join('.')),
  );
}

const partArb: fc.Arbitrary<Part> = fc.record({
  name: fc.oneof(fc.constantFrom('file', 'callId', 'agentId', 'startedAt', 'tags', 'direction', 'durationSeconds', 'policy', 'from'), fc.string({ unit: 'binary', maxLength: 10 })),
  filename: fc.oneof(fc.constantFrom('call.opus', '../../etc/passwd', ''), fc.string({ unit: 'binary', maxLength: 10 })),
  type: fc.constantFrom('audio/ogg', 'text/plain', 'application/octet-stream', 'multipart/mixed; boundary=x'),
  data: fc.oneof(hostileText, fc.stringMatching(/^[A-Za-z0-9._-]{1,30}$/), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b))),
}, { requiredKeys: ['data'] });

export const multipart: fc.Arbitrary<{ boundary: string; body: Buffer }> = fc.tuple(
  fc.oneof(fc.constant('fuzz-boundary'), fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/)),
  fc.array(partArb, { maxLength: 8 }),
  fc.boolean(),
).map(([boundary, parts, close]) => ({ boundary, body: multipartBody(boundary, parts, close) }));

export const headers: fc.Arbitrary<HeaderList> = fc.array(fc.tuple(
  fc.oneof(
    fc.constantFrom('Accept', 'Accept-Encoding', 'Content-Type', 'Content-Length', 'Transfer-Encoding', 'Range', 'If-None-Match', 'X-Request-Id', 'X-Forwarded-For', 'Forwarded', 'Origin', 'Cookie', 'Expect', 'TE', 'Trailer', 'Upgrade', 'User-Agent'),
    fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,30}$/),
  ),
  fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 60 }), fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)))
    .map((v) => (typeof v === 'string' ? v.replace(/[\r\n]/g, '') : Buffer.from(v.filter((x) => x !== 0x0a && x !== 0x0d)))),
), { maxLength: 8 });
