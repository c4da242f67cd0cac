/**
 * Figure 1: the object format alone, streaming, against node's raw AES-256-GCM on the same bytes
 * (the ceiling) and against the AWS Encryption SDK for JavaScript, default and fastest settings.
 * Every variant reads the same pool bytes in the same 64 KiB chunks; each decrypter then reads
 * its own ciphertext in 64 KiB chunks. Variants run round-robin and the best of the repetitions
 * counts, so a burst of noise from a neighbour hurts one repetition rather than one variant.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { createEncryptStream, createObjectDecryptStream, DEFAULT_SEGMENT_SIZE } from '../../src/crypto/index.js';
import { entry, type Entry, type Target } from '../lib/results.js';
import { CHUNK_BYTES, MiB, poolChunks } from '../lib/payload.js';

export interface CryptoOptions {
  readonly bytes: number;
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

interface Variant {
  readonly name: string;
  encrypt(): Duplex;
  decrypt(ciphertext: Buffer): Duplex;
}

const sdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

function variants(plaintextSize: number): Variant[] {
  const key = randomBytes(32);
  const recordingId = randomUUID();
  const keyring = new RawAesKeyringNode({
    keyName: 'bench', keyNamespace: 'callvault-bench', unencryptedMasterKey: key,
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const context = { tenant: 'bench', recordingId };
  const iv = randomBytes(12);
  let rawTag: Buffer | undefined;
  return [
    {
      name: 'callvault format',
      encrypt: () => createEncryptStream({ key, recordingId, segmentSize: DEFAULT_SEGMENT_SIZE }),
      decrypt: () => createObjectDecryptStream({ key, recordingId, plaintextSize }),
    },
    {
      name: 'node AES-256-GCM',
      encrypt: () => {
        const c = createCipheriv('aes-256-gcm', key, iv);
        c.once('end', () => { rawTag = c.getAuthTag(); });
        return c;
      },
      decrypt: () => {
        const d = createDecipheriv('aes-256-gcm', key, iv);
        if (!rawTag) throw new Error('raw AES-GCM decrypt before encrypt');
        d.setAuthTag(rawTag);
        return d;
      },
    },
    {
      name: 'AWS SDK default (4 KiB frames, signed)',
      encrypt: () => sdk.encryptStream(keyring, { encryptionContext: context, frameLength: 4096 }),
      decrypt: () => sdk.decryptStream(keyring),
    },
    {
      name: 'AWS SDK fastest (unsigned, 1 MiB frames)',
      encrypt: () => sdk.encryptStream(keyring, {
        encryptionContext: context, frameLength: MiB, suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
      }),
      decrypt: () => sdk.decryptUnsignedMessageStream(keyring),
    },
  ];
}

/** Counts bytes; keeps them only when asked (the encrypt pass keeps the ciphertext for decrypt). */
class Sink extends Writable {
  bytes = 0;
  readonly kept: Buffer[] = [];
  constructor(private readonly keep: boolean) { super({ highWaterMark: CHUNK_BYTES }); }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (this.keep) this.kept.push(chunk);
    cb();
  }
}

/** Kept apart from the timed pass: holding 256 MB would time page faults, not encryption. */
async function ciphertextOf(v: Variant, bytes: number): Promise<Buffer> {
  const sink = new Sink(true);
  await pipeline(Readable.from(poolChunks(bytes)), v.encrypt(), sink);
  return Buffer.concat(sink.kept);
}

function* slices(buf: Buffer): Generator<Buffer> {
  for (let off = 0; off < buf.length; off += CHUNK_BYTES) yield buf.subarray(off, Math.min(buf.length, off + CHUNK_BYTES));
}

interface Speed { readonly cpu: number; readonly wall: number }

/**
 * MB/s two ways: per CPU-second of this process (user + system) and per wall-clock second. On a
 * shared machine the process is often descheduled mid-run; CPU time does not count that, so the
 * CPU figure is the one compared, and the best wall-clock figure is kept in the notes.
 */
async function timed(source: Iterable<Buffer>, transform: Duplex, sink: Sink, bytes: number): Promise<Speed> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await pipeline(Readable.from(source, { objectMode: false }), transform, sink);
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { cpu: bytes / 1e6 / ((used.user + used.system) / 1e6), wall: bytes / 1e6 / wall };
}

function best(a: Speed | undefined, b: Speed): Speed {
  return a ? { cpu: Math.max(a.cpu, b.cpu), wall: Math.max(a.wall, b.wall) } : b;
}

export async function runCrypto(opts: CryptoOptions): Promise<Entry[]> {
  const vs = variants(opts.bytes);
  const enc = new Map<string, Speed>();
  const dec = new Map<string, Speed>();
  const ciphertexts = new Map<string, Buffer>();
  // Warm-up: JIT, OpenSSL contexts and the SDK's lazy imports, off the clock.
  for (const v of variants(4 * MiB)) {
    const sink = new Sink(true);
    await pipeline(Readable.from(poolChunks(4 * MiB)), v.encrypt(), sink);
    await pipeline(Readable.from(slices(Buffer.concat(sink.kept))), v.decrypt(Buffer.alloc(0)), new Sink(false));
  }
  for (let rep = 0; rep < opts.repetitions; rep++) {
    for (const v of vs) {
      const speed = await timed(poolChunks(opts.bytes), v.encrypt(), new Sink(false), opts.bytes);
      enc.set(v.name, best(enc.get(v.name), speed));
      if (!ciphertexts.has(v.name)) ciphertexts.set(v.name, await ciphertextOf(v, opts.bytes));
      opts.log(`  encrypt ${v.name}: ${speed.cpu.toFixed(0)} MB/s per CPU-second, ${speed.wall.toFixed(0)} MB/s wall`);
    }
    for (const v of vs) {
      const ct = ciphertexts.get(v.name) ?? Buffer.alloc(0);
      const sink = new Sink(false);
      const speed = await timed(slices(ct), v.decrypt(ct), sink, opts.bytes);
      if (sink.bytes !== opts.bytes) throw new Error(`${v.name} decrypted ${sink.bytes} bytes, expected ${opts.bytes}`);
      dec.set(v.name, best(dec.get(v.name), speed));
      opts.log(`  decrypt ${v.name}: ${speed.cpu.toFixed(0)} MB/s per CPU-second, ${speed.wall.toFixed(0)} MB/s wall`);
    }
  }
  return [...compare('encrypt', enc, opts), ...compare('decrypt', dec, opts)];
}

function compare(op: 'encrypt' | 'decrypt', figures: Map<string, Speed>, opts: CryptoOptions): Entry[] {
  const ours = figures.get('callvault format') ?? { cpu: 0, wall: 0 };
  const size = `${Math.round(opts.bytes / MiB)} MiB`;
  // The SDK figures stay for comparison; only node's raw AES-256-GCM on the same bytes is a target.
  const targets: Array<[string, string, Target]> = [
    ['node AES-256-GCM', 'node AES-256-GCM', { kind: 'ratio-min', value: 0.85 }],
    ['AWS SDK default (4 KiB frames, signed)', 'AWS Encryption SDK default', { kind: 'none' }],
    ['AWS SDK fastest (unsigned, 1 MiB frames)', 'AWS Encryption SDK fastest', { kind: 'none' }],
  ];
  return targets.map(([key, label, target]) => {
    const base = figures.get(key) ?? { cpu: 0, wall: 0 };
    return entry({
      name: `${op} vs ${label}`, unit: 'MB/s', value: ours.cpu, baseline: base.cpu, baselineName: key,
      target,
      notes: `${size} streamed in 64 KiB chunks, best of ${opts.repetitions}, MB per CPU-second of the process; `
        + `wall clock ${ours.wall.toFixed(0)} vs ${base.wall.toFixed(0)} MB/s; callvault format with ${DEFAULT_SEGMENT_SIZE / 1024} KiB segments`,
    });
  });
}
