/** Bodies: wrong Content-Type, multipart with zero, two or thousands of parts, bad JSON. */
import { gzipSync } from 'node:zlib';
import type { HostileCase } from '../corpus.js';
import type { HostileVault } from '../vault.js';
import { MAX_RECORDING_BYTES } from '../vault.js';
import { field, file, jsonRequest, multipartBody, multipartRequest, NOT_AUDIO, OPUS, upload } from './build.js';

export function contentTypeCases(h: HostileVault): HostileCase[] {
  const pbx = h.tokens.pbx;
  const put = (type: string, body: Buffer | string = OPUS): HostileCase['request'] =>
    upload('/v1/recordings/ctype-probe', pbx, Buffer.isBuffer(body) ? body : Buffer.from(body), [['Content-Type', type]]);
  const post = (type: string, body: Buffer | string): HostileCase['request'] =>
    ({ method: 'POST', target: '/v1/recordings', token: pbx, headers: [['Content-Type', type]], body });
  const link = (type: string, body: string): HostileCase['request'] => jsonRequest('POST', `/v1/recordings/${h.recordingId}/links`, h.tokens.supervisor, body, type);
  return [
    { name: 'content-type: PUT audio as text/plain', request: put('text/plain'), expect: 415 },
    { name: 'content-type: PUT audio as application/json', request: put('application/json', '{"audio":"nope"}'), expect: 415 },
    { name: 'content-type: PUT audio as multipart/form-data', request: put('multipart/form-data; boundary=x'), expect: 415 },
    { name: 'content-type: PUT audio as a form', request: put('application/x-www-form-urlencoded', 'a=b'), expect: 415 },
    { name: 'content-type: PUT with a Content-Type of only semicolons', request: put(';;;;'), expect: 415 },
    { name: 'content-type: PUT with 4 KiB of parameters, body not audio', request: put(`audio/wav${'; a=1'.repeat(800)}`, NOT_AUDIO), expect: 415 },
    { name: 'content-type: PUT audio/ogg whose bytes are not audio', request: put('audio/ogg', NOT_AUDIO), expect: 415 },
    { name: 'content-type: PUT an empty body', request: put('audio/ogg', Buffer.alloc(0)), expect: 400, code: 'empty_body' },
    { name: 'content-type: PUT gzip-encoded audio', request: upload('/v1/recordings/ctype-gzip', pbx, gzipSync(OPUS), [['Content-Type', 'audio/ogg'], ['Content-Encoding', 'gzip']]), expect: '4xx' },
    { name: 'content-type: POST recordings as JSON', request: post('application/json', '{"callId":"x"}'), expect: 415 },
    { name: 'content-type: POST recordings multipart without parameters', request: post('multipart/form-data', 'x'), expect: 415 },
    { name: 'content-type: POST recordings multipart without a boundary', request: post('multipart/form-data; charset=utf-8', '--x\r\n'), expect: [400, 415] },
    { name: 'content-type: POST recordings multipart with an empty boundary', request: post('multipart/form-data; boundary=', '--\r\n'), expect: [400, 415] },
    { name: 'content-type: POST recordings multipart with a 200-character boundary', request: post(`multipart/form-data; boundary=${'b'.repeat(200)}`, '--b\r\n'), expect: [400, 415] },
    { name: 'content-type: POST recordings as multipart/mixed', request: post('multipart/mixed; boundary=x', '--x--\r\n'), expect: 415 },
    { name: 'content-type: link request as text/plain', request: link('text/plain', '{"reason":"wrong type"}'), expect: 400 },
    { name: 'content-type: link request with no Content-Type', request: { method: 'POST', target: `/v1/recordings/${h.recordingId}/links`, token: h.tokens.supervisor, body: '{"reason":"no type"}' }, expect: 400 },
    { name: 'content-type: link request in UTF-16', request: link('application/json; charset=utf-16', '{"reason":"utf16"}'), expect: [400, 415] },
    { name: 'content-type: link request with an unknown charset', request: link('application/json; charset=klingon', '{"reason":"x"}'), expect: 415 },
    { name: 'content-type: link request as XML', request: link('application/xml', '<reason>x</reason>'), expect: 400 },
    { name: 'content-encoding: gzip header over plain bytes', request: { ...link('application/json', '{"reason":"not gzip"}'), headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']] }, expect: '4xx' },
    { name: 'content-encoding: unknown coding', request: { ...link('application/json', '{"reason":"x"}'), headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'compress']] }, expect: 415 },
    { name: 'content-encoding: gzip bomb inflating to 10 MiB', request: { method: 'POST', target: `/v1/recordings/${h.recordingId}/links`, token: h.tokens.supervisor, headers: [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']], body: gzipSync(Buffer.from(`{"reason":"${' '.repeat(10 * 1024 * 1024)}"}`)) }, expect: 413 },
  ];
}

export function multipartCases(h: HostileVault): HostileCase[] {
  const pbx = h.tokens.pbx;
  const mp = (parts: Parameters<typeof multipartBody>[1], close = true): HostileCase['request'] => multipartRequest(pbx, multipartBody('hostile-boundary', parts, close));
  const fields = (n: number, size = 4): Parameters<typeof multipartBody>[1] => Array.from({ length: n }, (_, i) => field(`f${i}`, 'x'.repeat(size)));
  return [
    { name: 'multipart: zero files, only fields', request: mp([field('callId', 'mp-zero-files'), field('direction', 'inbound')]), expect: 400, code: 'missing_file' },
    { name: 'multipart: zero parts at all', request: mp([]), expect: 400, code: 'missing_file' },
    { name: 'multipart: two files', request: mp([field('callId', 'mp-two-files'), file(), file(OPUS, 'second')]), expect: 400, code: 'multiple_files' },
    { name: 'multipart: two files, the second before any field', request: mp([file(), file(), field('callId', 'mp-two-files-b')]), expect: 400, code: 'multiple_files' },
    { name: 'multipart: 3,000 file parts', request: mp(Array.from({ length: 3_000 }, (_, i) => file(NOT_AUDIO, `f${i}`))), expect: '4xx' },
    { name: 'multipart: 5,000 fields', request: mp([...fields(5_000), file()]), expect: 413 },
    { name: 'multipart: 5,000 nameless parts', request: mp(Array.from({ length: 5_000 }, () => ({ data: 'x' }))), expect: '4xx' },
    { name: 'multipart: 20,000 empty fields before the file', request: mp([...fields(20_000, 0), file()]), expect: 413 },
    { name: 'multipart: one 64 KiB field', request: mp([field('callId', 'mp-big-field'), field('agentId', 'a'.repeat(64 * 1024)), file()]), expect: 413 },
    { name: 'multipart: 4 KiB field name', request: mp([field('n'.repeat(4 * 1024), 'x'), file()]), expect: '4xx' },
    { name: 'multipart: two fields without names', request: mp([{ headers: ['Content-Disposition: form-data'], data: 'x' }, { headers: ['Content-Disposition: form-data'], data: 'y' }, file()]), expect: 400, code: 'invalid_multipart' },
    { name: 'multipart: a file part without a name, not audio', request: mp([field('callId', 'mp-nameless-file'), { headers: ['Content-Disposition: form-data; filename="x.opus"'], data: NOT_AUDIO }]), expect: 415 },
    { name: 'multipart: a part without Content-Disposition', request: mp([{ headers: ['Content-Type: text/plain'], data: 'x' }, file()]), expect: '4xx' },
    { name: 'multipart: a field sent twice', request: mp([field('callId', 'mp-dup'), field('callId', 'mp-dup-2'), file()]), expect: 400, code: 'duplicate_field' },
    { name: 'multipart: a part with 200 headers (the excess is ignored)', request: mp([{ name: 'callId', headers: Array.from({ length: 200 }, (_, i) => `X-P${i}: v`), data: 'mp-headers' }, file()]), expect: 'not-5xx' },
    { name: 'multipart: no closing boundary', request: mp([field('callId', 'mp-unclosed'), file()], false), expect: 400 },
    { name: 'multipart: garbage instead of parts', request: multipartRequest(pbx, Buffer.from('this is not multipart at all')), expect: 400 },
    { name: 'multipart: part without blank line after its headers', request: multipartRequest(pbx, Buffer.from('--hostile-boundary\r\nContent-Disposition: form-data; name="callId"\r\nmp-x\r\n--hostile-boundary--\r\n')), expect: 400 },
    { name: 'multipart: boundary in the body differs from the header', request: multipartRequest(pbx, multipartBody('other-boundary', [field('callId', 'mp-other'), file()])), expect: 400 },
    { name: 'multipart: missing callId field', request: mp([file()]), expect: 400, code: 'missing_call_id' },
    { name: 'multipart: callId with traversal', request: mp([field('callId', '../../etc/passwd'), file()]), expect: 400, code: 'invalid_call_id' },
    { name: 'multipart: callId with a NUL byte', request: mp([field('callId', 'mp\0nul'), file()]), expect: 400, code: 'invalid_call_id' },
    { name: 'multipart: agentId with a NUL byte', request: mp([field('callId', 'mp-nul-agent'), field('agentId', 'agent\0one'), file()]), expect: 400 },
    { name: 'multipart: tags with a NUL byte after the file', request: mp([field('callId', 'mp-nul-tags'), file(), field('tags', 'a,b\0c')]), expect: 400 },
    { name: 'multipart: non-UTF-8 field value', request: mp([field('callId', 'mp-latin1'), { name: 'agentId', data: Buffer.from([0xff, 0xfe, 0x00, 0x41]) }, file()]), expect: 400 },
    { name: 'multipart: durationSeconds not a number after the file', request: mp([field('callId', 'mp-bad-duration'), file(), field('durationSeconds', 'NaN')]), expect: 400, code: 'invalid_metadata' },
    { name: 'multipart: startedAt in year 99999', request: mp([field('callId', 'mp-far-future'), field('startedAt', '+099999-01-01T00:00:00Z'), file()]), expect: 400 },
    { name: 'multipart: the file is not audio', request: mp([field('callId', 'mp-not-audio'), file(NOT_AUDIO)]), expect: 415 },
    { name: 'multipart: declared length above the limit', request: multipartRequest(pbx, Buffer.from('x'), 'hostile-boundary', [['Content-Length', String(MAX_RECORDING_BYTES * 4)]]), expect: 413 },
    { name: 'multipart: file larger than the recording limit', request: mp([field('callId', 'mp-too-big'), file(Buffer.concat([OPUS, Buffer.alloc(MAX_RECORDING_BYTES)]))]), expect: 413 },
  ];
}

export function jsonBodyCases(h: HostileVault): HostileCase[] {
  const link = (body: string | Buffer): HostileCase['request'] => jsonRequest('POST', `/v1/recordings/${h.recordingId}/links`, h.tokens.supervisor, body);
  const bad = (name: string, body: string | Buffer, expect: HostileCase['expect'] = 400): HostileCase => ({ name: `bad JSON: ${name}`, request: link(body), expect });
  return [
    bad('unterminated object', '{'),
    bad('missing value', '{"reason":'),
    bad('trailing comma', '{"reason":"abc",}'),
    bad('single quotes', "{'reason':'abc'}"),
    bad('an array', '[]'),
    bad('null', 'null'),
    bad('a string', '"reason"'),
    bad('a number', '123'),
    bad('empty body', ''),
    bad('whitespace only', '   \n\t '),
    bad('reason is a number', '{"reason":5}'),
    bad('reason too short', '{"reason":"ab"}'),
    bad('reason too long', JSON.stringify({ reason: 'r'.repeat(501) })),
    bad('reason with a NUL character', '{"reason":"abc\\u0000def"}'),
    bad('reason with a lone surrogate', '{"reason":"abc\\ud800def"}'),
    bad('reason of invalid UTF-8 bytes', Buffer.concat([Buffer.from('{"reason":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])),
    bad('negative ttlSeconds', '{"reason":"abc","ttlSeconds":-1}'),
    bad('zero ttlSeconds', '{"reason":"abc","ttlSeconds":0}'),
    bad('fractional ttlSeconds', '{"reason":"abc","ttlSeconds":1.5}'),
    bad('ttlSeconds as a string', '{"reason":"abc","ttlSeconds":"300"}'),
    bad('ttlSeconds overflowing to Infinity', '{"reason":"abc","ttlSeconds":1e999}'),
    bad('ttlSeconds above the maximum', '{"reason":"abc","ttlSeconds":99999999}'),
    bad('singleUse as a string', '{"reason":"abc","singleUse":"yes"}'),
    bad('an unknown key', '{"reason":"abc","admin":true}'),
    bad('__proto__ pollution', '{"reason":"abc","__proto__":{"admin":true}}'),
    bad('constructor pollution', '{"constructor":{"prototype":{"admin":true}},"reason":"abc"}'),
    bad('20,000 levels of nesting', `${'['.repeat(20_000)}${']'.repeat(20_000)}`),
    bad('nested object as reason', '{"reason":{"$ne":null}}'),
    bad('duplicate keys, the last invalid', '{"reason":"fine reason","reason":5}'),
    bad('a body over 64 KiB', JSON.stringify({ reason: 'abc', pad: 'p'.repeat(70 * 1024) }), 413),
    bad('a number with 10,000 digits', `{"reason":"abc","ttlSeconds":${'9'.repeat(10_000)}}`),
    bad('NaN literal', '{"reason":"abc","ttlSeconds":NaN}'),
    bad('JSON followed by garbage', '{"reason":"abc"} trailing'),
    bad('two JSON documents', '{"reason":"abc"}{"reason":"def"}'),
    bad('a comment', '{"reason":"abc" /* hi */}'),
  ];
}
