/**
 * Uploads whose client dies mid-body: chunked bodies cut inside a chunk or before the last
 * chunk, length-delimited bodies cut short, multipart bodies cut inside the file part. The
 * client may hear nothing (it hung up); the server must neither crash nor keep a recording.
 */
import type { HostileCase } from '../corpus.js';
import type { HostileVault } from '../vault.js';
import { field, file, multipartBody, OPUS } from './build.js';

export function truncatedCases(h: HostileVault): HostileCase[] {
  const auth = `Authorization: Bearer ${h.tokens.pbx}`;
  const put = (callId: string, framing: string): Buffer =>
    Buffer.from(`PUT /v1/recordings/${callId}.opus HTTP/1.1\r\nHost: localhost\r\n${auth}\r\nContent-Type: audio/ogg\r\n${framing}\r\n`, 'latin1');
  const chunk = (data: Buffer, declared = data.length): Buffer[] => [Buffer.from(`${declared.toString(16)}\r\n`), data];
  const cut = (name: string, callId: string, pieces: Buffer[]): HostileCase =>
    ({ name: `truncated: ${name}`, request: { raw: pieces }, expect: 'dropped-or-4xx', hangUp: true, leavesNoRecording: callId });
  const mpId = 'trunc-multipart';
  const mp = multipartBody('trunc-boundary', [field('callId', mpId), file()]);
  const mpHead = Buffer.from(`POST /v1/recordings HTTP/1.1\r\nHost: localhost\r\n${auth}\r\nContent-Type: multipart/form-data; boundary=trunc-boundary\r\n`, 'latin1');
  return [
    cut('closed inside the first chunk', 'trunc-1', [put('trunc-1', 'Transfer-Encoding: chunked\r\n'), ...chunk(OPUS.subarray(0, 1_000), 0x8000)]),
    cut('closed inside a later chunk', 'trunc-2', [
      put('trunc-2', 'Transfer-Encoding: chunked\r\n'), ...chunk(OPUS.subarray(0, 8_192)), Buffer.from('\r\n'), ...chunk(OPUS.subarray(8_192, 9_000), 0x4000),
    ]),
    cut('closed after whole chunks, before the last-chunk marker', 'trunc-3', [
      put('trunc-3', 'Transfer-Encoding: chunked\r\n'), ...chunk(OPUS), Buffer.from('\r\n'),
    ]),
    cut('closed inside a chunk-size line', 'trunc-4', [put('trunc-4', 'Transfer-Encoding: chunked\r\n'), ...chunk(OPUS.subarray(0, 4_096)), Buffer.from('\r\n10')]),
    cut('closed after the head of a chunked upload', 'trunc-5', [put('trunc-5', 'Transfer-Encoding: chunked\r\n')]),
    cut('closed before Content-Length bytes arrived', 'trunc-6', [put('trunc-6', `Content-Length: ${OPUS.length}\r\n`), OPUS.subarray(0, 10_000)]),
    cut('closed one byte short of Content-Length', 'trunc-7', [put('trunc-7', `Content-Length: ${OPUS.length}\r\n`), OPUS.subarray(0, OPUS.length - 1)]),
    cut('multipart closed inside the file part', mpId, [mpHead, Buffer.from(`Content-Length: ${mp.length}\r\n\r\n`), mp.subarray(0, mp.length - 5_000)]),
    cut('chunked multipart closed inside the file part', mpId, [mpHead, Buffer.from('Transfer-Encoding: chunked\r\n\r\n'), ...chunk(mp.subarray(0, 20_000), 0x10000)]),
  ];
}
