/** Request targets: path traversal, huge, NUL-bearing and non-UTF-8 identifiers, unknown ids. */
import type { HostileCase } from '../corpus.js';
import type { HostileVault } from '../vault.js';
import { upload } from './build.js';

const UNKNOWN_UUID = '3f0c1d2e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';

export function traversalCases(h: HostileVault): HostileCase[] {
  const pbx = h.tokens.pbx;
  const sup = h.tokens.supervisor;
  const put = (name: string, callId: string, expect: HostileCase['expect'] = 400, code: string | null = 'invalid_call_id'): HostileCase =>
    ({ name: `traversal: PUT ${name}`, request: upload(`/v1/recordings/${callId}`, pbx), expect, ...(code ? { code } : {}) });
  const get = (name: string, target: string, expect: HostileCase['expect'] = 404): HostileCase =>
    ({ name: `traversal: GET ${name}`, request: { target, token: sup }, expect });
  return [
    put('raw ../../etc/passwd', '../../etc/passwd', 404, null),
    put('encoded ..%2F..%2Fetc%2Fpasswd', '..%2F..%2Fetc%2Fpasswd'),
    put('fully encoded dots and slashes', '%2e%2e%2f%2e%2e%2fetc%2fpasswd'),
    put('backslashes', '..%5C..%5Cwindows%5Cwin.ini'),
    put('double-encoded', '%252e%252e%252fetc%252fpasswd'),
    put('dot-dot alone, encoded', '%2e%2e'),
    put('dot-dot alone, raw', '..'),
    put('a single dot', '.'),
    put('leading slash, encoded', '%2Fetc%2Fpasswd'),
    put('traversal behind a type hint', 'x%2F..%2F..%2Fy.wav'),
    put('....// filter evasion', '....%2F%2F....%2F%2Fetc'),
    put('overlong UTF-8 dots', '%c0%ae%c0%ae%c0%af', 400, null),
    put('NUL before a type hint', '..%00.wav', 400, null),
    put('raw path segments a/../b', 'a/../b', 404, null),
    put('Windows drive path', 'C%3A%5CWindows%5Csystem32'),
    put('UNC path', '%5C%5Cserver%5Cshare'),
    put('file URL', 'file%3A%2F%2F%2Fetc%2Fpasswd'),
    put('semicolon path parameter', 'call%3B..%2F..'),
    get('recording id ..%2F..%2Fetc%2Fpasswd', '/v1/recordings/..%2F..%2Fetc%2Fpasswd'),
    get('recording id %2e%2e', '/v1/recordings/%2e%2e'),
    get('raw ../../../etc/passwd after recordings', '/v1/recordings/../../../etc/passwd', '4xx'),
    get('backslash-dot recording id', '/v1/recordings/%5c..%5c..%5c'),
    get('doubled slashes', '//v1//recordings', '4xx'),
    get('trailing traversal on a real id', `/v1/recordings/${h.recordingId}%2F..%2F..`),
    { name: 'traversal: DELETE link ..%2F..', request: { method: 'DELETE', target: '/v1/links/..%2F..%2Fetc', token: sup }, expect: 404 },
    { name: 'traversal: media token ..%2F..%2Fetc%2Fpasswd', request: { target: '/media/..%2F..%2Fetc%2Fpasswd' }, expect: 403, code: 'link_invalid' },
    { name: 'traversal: policy name ..%2F..', request: { method: 'PUT', target: '/v1/retention-policies/..%2F..%2Fx', token: h.tokens.admin, headers: [['Content-Type', 'application/json']], body: '{"retain":"P90D"}' }, expect: 400, code: 'invalid_policy_name' },
    { name: 'traversal: legal hold on ..%2F..', request: { method: 'PUT', target: '/v1/recordings/..%2F..%2Fx/legal-hold', token: h.tokens.compliance, headers: [['Content-Type', 'application/json']], body: '{"reason":"case 1"}' }, expect: 404 },
  ];
}

export function identifierCases(h: HostileVault): HostileCase[] {
  const pbx = h.tokens.pbx;
  const sup = h.tokens.supervisor;
  const long = (n: number): string => 'a'.repeat(n);
  return [
    { name: 'huge callId: 201 characters', request: upload(`/v1/recordings/${long(201)}`, pbx), expect: 400, code: 'invalid_call_id' },
    { name: 'huge callId: 200 characters plus a type hint (valid id, not audio)', request: upload(`/v1/recordings/${long(200)}.wav`, pbx), expect: 415 },
    { name: 'huge callId: 5,000 characters', request: upload(`/v1/recordings/${long(5_000)}`, pbx), expect: 400, code: 'invalid_call_id' },
    { name: 'huge callId: 14,000 characters', request: upload(`/v1/recordings/${long(14_000)}`, pbx), expect: [400, 431] },
    { name: 'huge callId: 20,000 characters', request: upload(`/v1/recordings/${long(20_000)}`, pbx), expect: 431, code: 'headers_too_large' },
    { name: 'huge callId: 1 MiB', request: upload(`/v1/recordings/${long(1024 * 1024)}`, pbx), expect: 431, code: 'headers_too_large' },
    { name: 'huge callId: 3,000 encoded multibyte characters', request: upload(`/v1/recordings/${encodeURIComponent('é'.repeat(1_500))}`, pbx), expect: 400 },
    { name: 'huge recording id: 10,000 characters', request: { target: `/v1/recordings/${long(10_000)}`, token: sup }, expect: 404 },
    { name: 'huge media token: 5,000 characters', request: { target: `/media/${long(5_000)}` }, expect: 403, code: 'link_invalid' },
    { name: 'huge link id: 8,000 characters', request: { method: 'DELETE', target: `/v1/links/${long(8_000)}`, token: sup }, expect: 404 },
    { name: 'NUL: encoded in the middle of a callId', request: upload('/v1/recordings/abc%00def', pbx), expect: 400 },
    { name: 'NUL: a callId that is only NUL', request: upload('/v1/recordings/%00', pbx), expect: 400 },
    { name: 'NUL: raw byte in the request target', request: upload(Buffer.from('/v1/recordings/abc\0def', 'latin1'), pbx), expect: 400 },
    { name: 'NUL: encoded in a recording id', request: { target: `/v1/recordings/${h.recordingId}%00`, token: sup }, expect: '4xx' },
    { name: 'NUL: encoded in a media token', request: { target: `${h.mediaPath}%00` }, expect: '4xx' },
    { name: 'NUL: encoded in a link id', request: { method: 'DELETE', target: `/v1/links/${h.linkId}%00`, token: sup }, expect: '4xx' },
    { name: 'NUL: encoded in a policy name', request: { method: 'PUT', target: '/v1/retention-policies/gold%00', token: h.tokens.admin, headers: [['Content-Type', 'application/json']], body: '{"retain":"P90D"}' }, expect: 400 },
    { name: 'non-UTF-8: %FF%FE in a callId', request: upload('/v1/recordings/%FF%FE', pbx), expect: 400 },
    { name: 'non-UTF-8: truncated two-byte sequence', request: upload('/v1/recordings/call-%C3%28', pbx), expect: 400 },
    { name: 'non-UTF-8: encoded UTF-16 surrogate', request: upload('/v1/recordings/call-%ED%A0%80', pbx), expect: 400 },
    { name: 'non-UTF-8: lone continuation byte', request: upload('/v1/recordings/call-%80', pbx), expect: 400 },
    { name: 'non-UTF-8: five-byte sequence', request: upload('/v1/recordings/call-%F8%88%80%80%80', pbx), expect: 400 },
    { name: 'non-UTF-8: raw bytes in the request target', request: upload(Buffer.from([...Buffer.from('/v1/recordings/call-'), 0xff, 0xfe, 0x80]), pbx), expect: 400 },
    { name: 'non-UTF-8: %FF in a recording id', request: { target: '/v1/recordings/%FF', token: sup }, expect: 400 },
    { name: 'non-UTF-8: %FF in a media token', request: { target: '/media/%FF%FF' }, expect: 400 },
    { name: 'bad percent-encoding: %zz in a callId', request: upload('/v1/recordings/call%zz', pbx), expect: 400 },
    { name: 'bad percent-encoding: trailing % in a callId', request: upload('/v1/recordings/call%', pbx), expect: 400 },
    { name: 'bad percent-encoding: %4 in a recording id', request: { target: '/v1/recordings/%4', token: sup }, expect: 400 },
    { name: 'control characters: encoded newline in a callId', request: upload('/v1/recordings/call%0D%0AX-Injected:%201', pbx), expect: 400 },
    { name: 'unicode: emoji and RTL override in a callId', request: upload(`/v1/recordings/${encodeURIComponent('call\u202e\u{1F4DE}')}`, pbx), expect: 400 },
    { name: 'unknown id: a recording that does not exist', request: { target: `/v1/recordings/${UNKNOWN_UUID}`, token: sup }, expect: 404 },
    { name: 'unknown id: upper-case UUID spelling', request: { target: `/v1/recordings/${UNKNOWN_UUID.toUpperCase()}`, token: sup }, expect: 404 },
    { name: 'unknown id: UUID with braces', request: { target: `/v1/recordings/%7B${UNKNOWN_UUID}%7D`, token: sup }, expect: 404 },
    { name: 'unknown id: revoke a link that does not exist', request: { method: 'DELETE', target: `/v1/links/${UNKNOWN_UUID}`, token: sup }, expect: 404 },
    { name: 'unknown id: links for a recording that does not exist', request: { method: 'POST', target: `/v1/recordings/${UNKNOWN_UUID}/links`, token: sup, headers: [['Content-Type', 'application/json']], body: '{"reason":"looking around"}' }, expect: 404 },
    { name: 'unknown route: PATCH a recording', request: { method: 'PATCH', target: `/v1/recordings/${h.recordingId}`, token: sup }, expect: 404 },
    { name: 'unknown route: TRACE /', request: { method: 'TRACE', target: '/' }, expect: '4xx' },
    { name: 'unknown route: /v2/recordings', request: { target: '/v2/recordings', token: sup }, expect: 404 },
    { name: 'unknown route: upper-case path with no token', request: { target: '/V1/RECORDINGS' }, expect: '4xx' },
  ];
}
