/**
 * Range headers against a real playback link. The media contract serves a malformed or
 * multi-range header as the whole recording (RFC 9110 lets a server ignore Range), so those may
 * answer 200; a range starting past the end is 416; none may ever be a 5xx.
 */
import type { HostileCase } from '../corpus.js';
import type { HostileVault } from '../vault.js';

export function rangeCases(h: HostileVault): HostileCase[] {
  const size = h.recordingBytes;
  const range = (name: string, value: string | Buffer, expect: HostileCase['expect'] = [200, 206], method = 'GET'): HostileCase =>
    ({ name: `range: ${name}`, request: { method, target: h.mediaPath, headers: [['Range', value]] }, expect });
  const [payload = '', mac = ''] = h.mediaPath.slice('/media/'.length).split('.');
  const altered = `${payload}.${mac.slice(0, -2)}${mac.at(-2) === 'A' ? 'B' : 'A'}${mac.slice(-1)}`;
  return [
    range('not a range at all', 'abc', 200),
    range('end before start', 'bytes=5-1', 200),
    range('only a dash', 'bytes=-', 200),
    range('two dashes', 'bytes=--1', 200),
    range('empty set', 'bytes=', 200),
    range('unknown unit', 'items=0-1', 200),
    range('hexadecimal offsets', 'bytes=0x10-0x20', 200),
    range('exponent offsets', 'bytes=1e3-2e3', 200),
    range('negative start', 'bytes=-1-2', 200),
    range('parameters after the spec', 'bytes=0-1;q=1', 200),
    range('suffix of zero', 'bytes=-0', 416),
    range('start exactly at the end', `bytes=${size}-`, 416),
    range('start past the end', `bytes=${size + 1}-${size + 100}`, 416),
    range('start overflowing 64 bits', 'bytes=99999999999999999999999-', 416),
    range('start of 400 digits', `bytes=${'9'.repeat(400)}-`, 416),
    range('end overflowing 64 bits', 'bytes=0-99999999999999999999999', 206),
    range('suffix overflowing 64 bits', 'bytes=-99999999999999999999999', 206),
    range('end at MAX_SAFE_INTEGER + 2', `bytes=0-${Number.MAX_SAFE_INTEGER + 2}`, 206),
    range('two ranges', 'bytes=0-0,1-1', 200),
    range('overlapping ranges', 'bytes=0-100,50-150', 200),
    range('1,000 ranges', `bytes=${Array.from({ length: 1_000 }, (_, i) => `${i}-${i}`).join(',')}`, 200),
    range('a satisfiable and an unsatisfiable range', `bytes=0-1,${size + 10}-`, 200),
    range('10 KiB of spaces', `bytes=${' '.repeat(10 * 1024)}0-1`, [200, 206]),
    range('non-UTF-8 bytes', Buffer.from([0x62, 0x79, 0x74, 0x65, 0x73, 0x3d, 0xff, 0x2d, 0x31]), 200),
    range('unicode digits', 'bytes=\uff10-\uff11', 200),
    range('HEAD with an unsatisfiable range', `bytes=${size}-`, 416, 'HEAD'),
    range('HEAD with a malformed range', 'bytes=x-y', 200, 'HEAD'),
    { name: 'range: If-Range that matches nothing', request: { target: h.mediaPath, headers: [['Range', 'bytes=0-1'], ['If-Range', '"not-the-etag"']] }, expect: 200 },
    { name: 'range: If-Range of a date far in the future', request: { target: h.mediaPath, headers: [['Range', 'bytes=0-1'], ['If-Range', 'Fri, 31 Dec 9999 23:59:59 GMT']] }, expect: 200 },
    { name: 'media: altered token with a valid range', request: { target: `/media/${altered}`, headers: [['Range', 'bytes=0-1']] }, expect: 403, code: 'link_invalid' },
    { name: 'media: token with an extra segment', request: { target: `${h.mediaPath}.x` }, expect: 403, code: 'link_invalid' },
    { name: 'media: token without its MAC', request: { target: `/media/${payload}` }, expect: 403, code: 'link_invalid' },
    { name: 'media: the payload of the token alone, twice', request: { target: `/media/${payload}.${payload}` }, expect: 403, code: 'link_invalid' },
    { name: 'media: empty token', request: { target: '/media/' }, expect: 404 },
    { name: 'media: a path below the token', request: { target: `${h.mediaPath}/extra` }, expect: 404 },
    { name: 'media: POST to a link', request: { method: 'POST', target: h.mediaPath, headers: [['Content-Type', 'application/json']], body: '{}' }, expect: 404 },
    { name: 'media: a bearer token instead of a link token', request: { target: `/media/${h.tokens.supervisor}` }, expect: 403 },
  ];
}
