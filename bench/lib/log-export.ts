/**
 * Per-log export files built the way the vault builds them (canonicalLogEvent, hashLogEvent,
 * the export line format, RFC 9162 roots, signed checkpoints), without a database: the bench
 * verifies a million-event file, and the tests tamper with small ones.
 */
import type { KeyObject } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { hashLogEvent, logEventLeaf } from '../../src/audit/canonical.js';
import { signCheckpoint } from '../../src/audit/checkpoint.js';
import { checkpointLine, logNdjsonLine } from '../../src/audit/log-lines.js';
import { CompactMerkle } from '../../src/audit/merkle-compact.js';
import { GENESIS_HASH, type LogEvent } from '../../src/audit/types.js';

export const BENCH_NAMESPACE = 'callvault.example.com/bench';
const RECORDINGS = 64;
const BASE_TIME = Date.parse('2026-12-01T00:00:00.000Z');

export interface LogSpec {
  readonly origin: string;
  readonly tenant: string | null;
  /** Changes the content of event `logSeq` before it is chained (a rewritten history). */
  readonly vary?: (logSeq: number) => Partial<LogEvent> | undefined;
}

/** Events 1..count of one log, chained, with recordingPrev linking events about one recording. */
export function* logEvents(spec: LogSpec, count: number): Generator<LogEvent> {
  let prevHash = GENESIS_HASH;
  const lastAbout = new Map<string, number>();
  for (let logSeq = 1; logSeq <= count; logSeq += 1) {
    const recordingId = logSeq % 5 === 0 ? null : `00000000-0000-4000-8000-${String(logSeq % RECORDINGS).padStart(12, '0')}`;
    const unsealed = {
      log: spec.origin, logSeq, seq: 1000 + logSeq * 3, at: new Date(BASE_TIME + logSeq * 1000), tenant: spec.tenant,
      actorSub: `user-${logSeq % 7}`, actorRole: 'supervisor', action: logSeq % 3 === 0 ? 'media.read' : 'recording.viewed',
      outcome: 'allowed', recordingId, recordingPrev: recordingId === null ? null : lastAbout.get(recordingId) ?? null,
      linkId: null, ip: '203.0.113.7', userAgent: 'bench/1.0', requestId: `req-${logSeq}`,
      details: logSeq % 3 === 0 ? { range: `bytes=${logSeq}-${logSeq + 65535}`, bytes: 65536 } : {}, prevHash,
      ...spec.vary?.(logSeq),
    };
    const event: LogEvent = { ...unsealed, hash: hashLogEvent(unsealed) };
    if (recordingId !== null) lastAbout.set(recordingId, logSeq);
    prevHash = event.hash;
    yield event;
  }
}

export interface WrittenExport {
  readonly note: string;
  readonly root: Buffer;
  readonly bytes: number;
}

/**
 * Streams an unfiltered NDJSON export of `count` events to `file`, ending with the checkpoint
 * signed by `privateKey`; memory stays flat whatever the count.
 */
export async function writeLogExport(file: string, spec: LogSpec, count: number, privateKey: KeyObject): Promise<WrittenExport> {
  const out = createWriteStream(file, { flags: 'wx' });
  const root = new CompactMerkle();
  let bytes = 0;
  let buffer = '';
  const flush = async (): Promise<void> => {
    bytes += Buffer.byteLength(buffer);
    if (!out.write(buffer)) await once(out, 'drain');
    buffer = '';
  };
  for (const e of logEvents(spec, count)) {
    root.append(logEventLeaf(e));
    buffer += logNdjsonLine(e);
    if (buffer.length >= 256 * 1024) await flush();
  }
  const note = signCheckpoint({ origin: spec.origin, size: count, rootHash: root.root(), time: new Date(BASE_TIME) }, privateKey);
  buffer += checkpointLine(note);
  await flush();
  out.end();
  await once(out, 'finish');
  return { note, root: root.root(), bytes };
}
