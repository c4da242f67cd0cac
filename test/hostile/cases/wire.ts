/** HTTP framing: header floods, broken request lines, smuggling shapes, bad chunked encoding. */
import type { HostileCase } from '../corpus.js';
import type { HostileVault } from '../vault.js';
import { NOT_AUDIO } from './build.js';

const raw = (text: string): { raw: Buffer } => ({ raw: Buffer.from(text, 'latin1') });

export function headerCases(h: HostileVault): HostileCase[] {
  const bearer = `Authorization: Bearer ${h.tokens.supervisor}`;
  const flood = (n: number, size = 1): string => Array.from({ length: n }, (_, i) => `X-Flood-${i}: ${'v'.repeat(size)}`).join('\r\n');
  return [
    { name: 'header flood: one 20 KiB header', request: raw(`GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'b'.repeat(20 * 1024)}\r\n\r\n`), expect: 431, code: 'headers_too_large' },
    { name: 'header flood: 3,000 small headers', request: raw(`GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\n${flood(3_000)}\r\n\r\n`), expect: 431, code: 'headers_too_large' },
    { name: 'header flood: 150 headers under the byte limit push the token past the count limit', request: raw(`GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\n${flood(150, 8)}\r\n${bearer}\r\nConnection: close\r\n\r\n`), expect: 401, code: 'missing_token' },
    { name: 'header flood: 17 KiB cookie', request: raw(`GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nCookie: ${'k=v; '.repeat(3_500)}\r\n\r\n`), expect: 431 },
    { name: 'header flood: 8 KiB header name', request: raw(`GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\n${'N'.repeat(8 * 1024)}: x\r\nConnection: close\r\n\r\n`), expect: 401 },
    { name: 'header flood: 1 MiB of headers sent without end', request: raw(`GET /healthz HTTP/1.1\r\nHost: localhost\r\n${flood(40_000, 20)}`), expect: 431 },
    { name: 'header flood: 16 KiB bearer token', request: raw(`GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${'A'.repeat(16 * 1024)}\r\n\r\n`), expect: 431 },
    { name: 'header flood: 100 repeated Authorization headers', request: raw(`GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\n${'Authorization: Bearer x.y.z\r\n'.repeat(100)}Connection: close\r\n\r\n`), expect: 401 },
    { name: 'bad header: line without a colon', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nNoColonHere\r\n\r\n'), expect: 400, code: 'malformed_request' },
    { name: 'bad header: space inside the name', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n'), expect: 400 },
    { name: 'bad header: space before the colon', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nX-Test : x\r\n\r\n'), expect: 400 },
    { name: 'bad header: NUL byte in a value', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nX-Test: a\0b\r\n\r\n'), expect: 400 },
    { name: 'bad header: NUL byte in a bearer token', request: raw(`GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${h.tokens.supervisor.slice(0, 20)}\0${h.tokens.supervisor.slice(20)}\r\n\r\n`), expect: 400 },
    { name: 'bad header: bare CR inside a value', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nX-Test: a\rb\r\n\r\n'), expect: 400 },
    { name: 'bad header: bare LF line endings', request: raw('GET /v1/recordings HTTP/1.1\nHost: localhost\nConnection: close\n\n'), expect: '4xx' },
    { name: 'bad header: obsolete line folding', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n  b\r\nConnection: close\r\n\r\n'), expect: '4xx' },
    { name: 'bad header: DEL character in a value', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nX-Test: a\x7fb\r\nConnection: close\r\n\r\n'), expect: '4xx' },
    { name: 'bad header: non-UTF-8 bytes in User-Agent', request: { raw: Buffer.concat([Buffer.from('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUser-Agent: '), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('\r\n\r\n')]) }, expect: 401 },
    { name: 'bad header: missing Host on HTTP/1.1', request: raw('GET /v1/recordings HTTP/1.1\r\nConnection: close\r\n\r\n'), expect: 400 },
    { name: 'bad header: two Host headers', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n'), expect: '4xx' },
    { name: 'bad header: X-Request-Id with CRLF-looking and oversized content', request: { target: '/v1/recordings', headers: [['X-Request-Id', `${'r'.repeat(5_000)}%0d%0aSet-Cookie:x`]] }, expect: 401 },
    { name: 'bad header: Expect with an unknown expectation', request: { method: 'PUT', target: '/v1/recordings/expect-1', token: h.tokens.pbx, headers: [['Expect', 'the-unexpected'], ['Content-Type', 'audio/ogg']], body: NOT_AUDIO }, expect: 417 },
    { name: 'bad header: X-Forwarded-For spoofing with garbage', request: { target: '/v1/recordings', headers: [['X-Forwarded-For', '../../, 999.999.999.999, ::ffff:zz']] }, expect: 401 },
  ];
}

export function framingCases(h: HostileVault): HostileCase[] {
  const pbx = `Authorization: Bearer ${h.tokens.pbx}`;
  const putHead = (extra: string): string => `PUT /v1/recordings/framing-${Math.random().toString(36).slice(2)} HTTP/1.1\r\nHost: localhost\r\n${pbx}\r\nContent-Type: audio/ogg\r\n${extra}\r\n`;
  const linkHead = (extra: string): string => `POST /v1/recordings/${h.recordingId}/links HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${h.tokens.supervisor}\r\nContent-Type: application/json\r\n${extra}\r\n`;
  return [
    { name: 'request line: unknown HTTP version', request: raw('GET /healthz HTTP/9.9\r\nHost: localhost\r\n\r\n'), expect: 400, code: 'malformed_request' },
    { name: 'request line: method only', request: raw('GET\r\nHost: localhost\r\n\r\n'), expect: 400 },
    { name: 'request line: unknown method', request: raw('BREW /v1/recordings HTTP/1.1\r\nHost: localhost\r\n\r\n'), expect: 400 },
    { name: 'request line: lower-case method', request: raw('get /v1/recordings HTTP/1.1\r\nHost: localhost\r\n\r\n'), expect: 400 },
    { name: 'request line: 64 KiB method name', request: raw(`${'G'.repeat(64 * 1024)} / HTTP/1.1\r\nHost: localhost\r\n\r\n`), expect: '4xx' },
    { name: 'request line: two spaces before the target', request: raw('GET  /v1/recordings HTTP/1.1\r\nHost: localhost\r\n\r\n'), expect: '4xx' },
    { name: 'request line: space inside the target', request: raw('GET /v1/recordings /x HTTP/1.1\r\nHost: localhost\r\n\r\n'), expect: 400 },
    { name: 'request line: TLS bytes where HTTP should be', request: { raw: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x0d, 0x0a, 0x0d, 0x0a]) }, expect: 400 },
    { name: 'request line: absolute-form target naming another host', request: raw('GET https://evil.example/v1/recordings HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'), expect: '4xx' },
    { name: 'request line: asterisk-form target on GET', request: raw('GET * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'), expect: '4xx' },
    { name: 'request line: HTTP/1.0 without Host', request: raw('GET /v1/recordings HTTP/1.0\r\n\r\n'), expect: 401 },
    { name: 'request line: CONNECT tunnel request', request: raw('CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n'), expect: 405, code: 'method_not_allowed' },
    { name: 'request line: WebSocket upgrade on search', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'), expect: 401 },
    { name: 'request line: h2c upgrade with HTTP2-Settings', request: raw('GET /v1/recordings HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n'), expect: 401 },
    { name: 'request line: HTTP/2 connection preface', request: raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), expect: 400 },
    { name: 'smuggling: Content-Length and Transfer-Encoding together', request: raw(`${putHead('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n')}0\r\n\r\n`), expect: 400 },
    { name: 'smuggling: two different Content-Length headers', request: raw(`${putHead('Content-Length: 4\r\nContent-Length: 5\r\n')}abcde`), expect: 400 },
    { name: 'smuggling: Content-Length with a list', request: raw(`${putHead('Content-Length: 4, 4\r\n')}abcd`), expect: '4xx' },
    { name: 'smuggling: Transfer-Encoding that does not end in chunked', request: raw(`${putHead('Transfer-Encoding: chunked, identity\r\n')}0\r\n\r\n`), expect: 400 },
    { name: 'smuggling: Transfer-Encoding with a vertical tab', request: raw(`${putHead('Transfer-Encoding:\x0bchunked\r\n')}0\r\n\r\n`), expect: 400 },
    { name: 'smuggling: Transfer-Encoding xchunked', request: raw(`${putHead('Transfer-Encoding: xchunked\r\n')}0\r\n\r\n`), expect: 400 },
    { name: 'content-length: negative', request: raw(`${putHead('Content-Length: -1\r\n')}`), expect: 400 },
    { name: 'content-length: not a number', request: raw(`${putHead('Content-Length: abc\r\n')}`), expect: 400 },
    { name: 'content-length: exponent notation', request: raw(`${putHead('Content-Length: 1e3\r\n')}`), expect: 400 },
    { name: 'content-length: overflows 64 bits', request: raw(`${putHead('Content-Length: 99999999999999999999999\r\n')}`), expect: 400 },
    { name: 'content-length: far above the recording limit', request: raw(`${putHead('Content-Length: 9007199254740991\r\n')}`), expect: 413 },
    { name: 'chunked: chunk size that is not hex', request: raw(`${putHead('Transfer-Encoding: chunked\r\n')}zz\r\nabc\r\n0\r\n\r\n`), expect: 400 },
    { name: 'chunked: chunk size that overflows', request: raw(`${putHead('Transfer-Encoding: chunked\r\n')}FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n`), expect: 400 },
    { name: 'chunked: chunk data longer than declared', request: raw(`${putHead('Transfer-Encoding: chunked\r\n')}3\r\nabcdef\r\n0\r\n\r\n`), expect: 400 },
    { name: 'chunked: missing CRLF after the data', request: raw(`${putHead('Transfer-Encoding: chunked\r\n')}3\r\nabc0\r\n\r\n`), expect: 400 },
    { name: 'chunked: 20 KiB chunk extension', request: raw(`${putHead('Transfer-Encoding: chunked\r\n')}3;ext=${'e'.repeat(20 * 1024)}\r\nabc\r\n0\r\n\r\n`), expect: 413, code: 'chunk_extensions_too_large' },
    { name: 'chunked: negative chunk size', request: raw(`${putHead('Transfer-Encoding: chunked\r\n')}-3\r\nabc\r\n0\r\n\r\n`), expect: 400 },
    { name: 'chunked: JSON body with a bad chunk size', request: raw(`${linkHead('Transfer-Encoding: chunked\r\n')}q\r\n{}\r\n0\r\n\r\n`), expect: 400 },
    { name: 'chunked: JSON body with a trailer flood', request: raw(`${linkHead('Transfer-Encoding: chunked\r\n')}2\r\n{}\r\n0\r\n${'X-T: t\r\n'.repeat(3_000)}\r\n`), expect: '4xx' },
    { name: 'chunked: empty chunked upload', request: raw(`${putHead('Transfer-Encoding: chunked\r\nConnection: close\r\n')}0\r\n\r\n`), expect: 400 },
  ];
}
