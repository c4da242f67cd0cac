/** Query strings: search filters, cursors, oversized queries and upload metadata. */
import type { HostileCase } from '../corpus.js';
import type { HostileVault } from '../vault.js';
import { OPUS, upload } from './build.js';

export function searchCases(h: HostileVault): HostileCase[] {
  const search = (name: string, qs: string, expect: HostileCase['expect'] = 400, code?: string): HostileCase =>
    ({ name: `search: ${name}`, request: { target: `/v1/recordings?${qs}`, token: h.tokens.supervisor }, expect, ...(code ? { code } : {}) });
  return [
    search('limit given twice', 'limit=1&limit=2', 400, 'invalid_query'),
    search('limit in bracket syntax', 'limit[]=1', 400, 'invalid_query'),
    search('limit with a nested key', 'limit[a][b]=1'),
    search('limit zero', 'limit=0'),
    search('limit negative', 'limit=-1'),
    search('limit above the maximum', 'limit=501'),
    search('limit in exponent notation', 'limit=1e3'),
    search('limit with 30 digits', `limit=${'9'.repeat(30)}`),
    search('limit empty', 'limit='),
    search('limit not a number', 'limit=all'),
    search('startedAfter not a date', 'startedAfter=yesterday'),
    search('startedAfter in year 99999', 'startedAfter=%2B099999-01-01T00:00:00Z'),
    search('startedAfter in year 0', 'startedAfter=0000-01-01T00:00:00Z', 'not-5xx'),
    search('startedAfter in month 13', 'startedAfter=2024-13-01T00:00:00Z'),
    search('startedAfter on 30 February', 'startedAfter=2024-02-30T00:00:00Z', '4xx'),
    search('startedAfter without a zone', 'startedAfter=2024-01-01T00:00:00'),
    search('startedAfter as a Unix timestamp', 'startedAfter=1700000000'),
    search('startedAfter later than startedBefore', 'startedAfter=2025-01-01T00:00:00Z&startedBefore=2024-01-01T00:00:00Z'),
    search('startedBefore with an offset of 99 hours', 'startedBefore=2024-01-01T00:00:00%2B99:00'),
    search('direction not in the list', 'direction=sideways'),
    search('direction given twice', 'direction=inbound&direction=outbound'),
    search('an unknown parameter', 'bogus=1'),
    search('an empty parameter name', '=1'),
    search('__proto__ as a parameter', '__proto__=1'),
    search('constructor as a parameter', 'constructor=x&hasOwnProperty=y'),
    search('agentId of 129 characters', `agentId=${'a'.repeat(129)}`),
    search('a tag of 65 characters', `tags=${'t'.repeat(65)}`),
    search('33 tags', `tags=${Array.from({ length: 33 }, (_, i) => `t${i}`).join(',')}`),
    search('a phone number of 65 characters', `from=${'1'.repeat(65)}`),
    search('the former tag parameter', 'tag=a', 400, 'invalid_query'),
    search('a timestamp in the from number', 'from=2024-01-01T00:00:00Z', 400, 'invalid_query'),
    search('callId of 201 characters', `callId=${'c'.repeat(201)}`),
    search('agentId with a NUL character', 'agentId=%00'),
    search('tags with a NUL character', 'tags=a%00b'),
    search('callId with a NUL character', 'callId=call%00'),
    search('phone with a NUL character', 'phone=%2B1555%00'),
    search('agentId with invalid UTF-8', 'agentId=%FF%FE'),
    search('tags with an encoded surrogate', 'tags=%ED%A0%80'),
    search('bad percent-encoding in a value', 'agentId=%zz'),
    search('bad percent-encoding in a name', '%zz=1'),
    { name: 'search: raw non-UTF-8 bytes in the query', request: { target: Buffer.from([...Buffer.from('/v1/recordings?agentId='), 0xff, 0xc3, 0x28]), token: h.tokens.supervisor }, expect: 400 },
    search('a 10 KiB unknown parameter', `pad=${'p'.repeat(10 * 1024)}`),
    search('1,000 distinct parameters', Array.from({ length: 1_000 }, (_, i) => `p${i}=1`).join('&')),
    search('2,000 repetitions of one parameter', Array.from({ length: 2_000 }, () => 'tags=a').join('&')),
    search('a 20 KiB query string', `pad=${'p'.repeat(20 * 1024)}`, 431),
    { name: 'search: a 15 KiB query string with only separators', request: { target: `/v1/recordings?${'&'.repeat(15 * 1024)}` }, expect: 401 },
  ];
}

export function cursorCases(h: HostileVault): HostileCase[] {
  const real = h.cursor;
  const [payload = '', mac = ''] = real.split('.');
  const forged = Buffer.from(JSON.stringify({ k: '2000-01-01 00:00:00+00', i: '00000000-0000-4000-8000-000000000000' })).toString('base64url');
  const flip = (s: string): string => `${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.slice(-1)}`;
  const cursor = (name: string, qs: string, token = h.tokens.supervisor): HostileCase =>
    ({ name: `cursor: ${name}`, request: { target: `/v1/recordings?${qs}`, token }, expect: 400 });
  return [
    cursor('empty', 'cursor='),
    cursor('a plain word', 'cursor=abc'),
    cursor('two empty parts', 'cursor=.'),
    cursor('two short parts', 'cursor=a.b'),
    cursor('three parts', `cursor=${real}.extra`),
    cursor('2,000 characters', `cursor=${'c'.repeat(2_000)}`),
    cursor('a NUL character', `cursor=${payload}%00.${mac}`),
    cursor('padding characters', `cursor=${payload}%3D%3D.${mac}`),
    cursor('the MAC flipped', `cursor=${payload}.${flip(mac)}`),
    cursor('the payload flipped', `cursor=${flip(payload)}.${mac}`),
    cursor('a forged position with the real MAC', `cursor=${forged}.${mac}`),
    cursor('a forged position with no MAC', `cursor=${forged}`),
    cursor('payload and MAC swapped', `cursor=${mac}.${payload}`),
    cursor('given twice', `cursor=${real}&cursor=${real}`),
    cursor('carried over to another filter', `cursor=${real}&direction=inbound`),
    cursor('carried over to another limit and filter', `cursor=${real}&limit=5&tags=x`),
    cursor('carried over to another principal scope', `cursor=${real}`, h.token('agent', { sub: 'agent-7' })),
    cursor('carried over to another tenant', `cursor=${real}`, h.token('supervisor', { tenant: 'globex' })),
    cursor('base64 of garbage JSON', `cursor=${Buffer.from('{"k":').toString('base64url')}.${mac}`),
    cursor('unicode look-alike dots', `cursor=${payload}%E2%80%A4${mac}`),
  ];
}

export function metadataCases(h: HostileVault): HostileCase[] {
  let n = 0;
  const put = (name: string, qs: string, expect: HostileCase['expect'] = 400, code: string | null = 'invalid_metadata'): HostileCase => {
    n += 1;
    return { name: `upload metadata: ${name}`, request: upload(`/v1/recordings/meta-${n}.opus?${qs}`, h.tokens.pbx, OPUS), expect, ...(code ? { code } : {}) };
  };
  return [
    put('startedAt not a date', 'startedAt=now'),
    put('startedAt in year 99999', 'startedAt=%2B099999-01-01T00:00:00Z'),
    put('startedAt in year 0', 'startedAt=0000-01-01T00:00:00Z', 'not-5xx', null),
    put('startedAt in year 9999 (retention runs past the calendar)', 'startedAt=9999-12-31T23:59:59Z', 'not-5xx', null),
    put('durationSeconds NaN', 'durationSeconds=NaN'),
    put('durationSeconds negative', 'durationSeconds=-1'),
    put('durationSeconds overflowing to Infinity', 'durationSeconds=1e309'),
    put('durationSeconds above a week', 'durationSeconds=604801'),
    put('durationSeconds given twice', 'durationSeconds=1&durationSeconds=2'),
    put('direction not in the list', 'direction=up'),
    put('33 tags', `tags=${Array.from({ length: 33 }, (_, i) => `t${i}`).join(',')}`),
    put('a 65-character tag', `tags=${'t'.repeat(65)}`),
    put('tags of 3 KiB of commas', `tags=${','.repeat(3 * 1024)}`),
    put('policy in upper case', 'policy=GOLD'),
    put('policy that does not exist', 'policy=no-such-policy', 400, null),
    put('agentId with a NUL character', 'agentId=agent%00one', 400, null),
    put('from with a NUL character', 'from=%2B1555%00', 400, null),
    put('tags with a NUL character', 'tags=a%00b', 400, null),
    put('agentId with invalid UTF-8', 'agentId=%FF', 400, null),
    put('agentId of 129 characters', `agentId=${'a'.repeat(129)}`),
    put('from of 65 characters', `from=${'1'.repeat(65)}`),
    { name: 'upload: X-Checksum-Sha256 not hex', request: upload('/v1/recordings/digest-0.opus', h.tokens.pbx, OPUS, [['Content-Type', 'audio/ogg'], ['X-Checksum-Sha256', 'zz']]), expect: 400, code: 'invalid_digest' },
    { name: 'upload: Content-Digest of the wrong length', request: upload('/v1/recordings/digest-1.opus', h.tokens.pbx, OPUS, [['Content-Type', 'audio/ogg'], ['Content-Digest', 'sha-256=:YWJj:']]), expect: 400, code: 'invalid_digest' },
    { name: 'upload: checksum that does not match the bytes', request: upload('/v1/recordings/digest-2.opus', h.tokens.pbx, OPUS, [['Content-Type', 'audio/ogg'], ['X-Checksum-Sha256', '0'.repeat(64)]]), expect: 400 },
    { name: 'upload: Content-Length of zero', request: upload('/v1/recordings/empty-1.opus', h.tokens.pbx, Buffer.alloc(0)), expect: 400, code: 'empty_body' },
    { name: 'upload: chunked body above the recording limit', request: { ...upload('/v1/recordings/too-big-1.wav', h.tokens.pbx, Buffer.concat([OPUS, Buffer.alloc(2 * 1024 * 1024)])), framing: 'chunked' }, expect: 413 },
    { name: 'upload: the same callId again with different bytes', request: upload(`/v1/recordings/${h.callId}.opus`, h.tokens.pbx, Buffer.concat([OPUS, Buffer.from('extra')])), expect: 409 },
  ];
}
