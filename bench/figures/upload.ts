/**
 * Figure 2: one large HTTPS PUT end to end through the vault (auth, sniffing, hashing,
 * encryption, store, row and audit event), against baselines that receive the same bytes over
 * the same TLS certificate and listener settings: on fs, a null sink (read and discard) and a
 * durable sink (write and fsync, bench/servers/sink.ts); on s3rver, a raw multipart PUT into the
 * same s3rver (bench/servers/raw-put.ts). curl drives every side from a page-cached file, so
 * the client is never the bound; its CPU is reported too. Repetitions rotate which side goes
 * first and the best of each counts: on a shared machine noise only ever slows a transfer down.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { threadCpuSeconds } from '../lib/children.js';
import { curlPut, wavFile } from '../lib/curl.js';
import { agentFor, expectStatus, put } from '../lib/http.js';
import { MiB, wavStream } from '../lib/payload.js';
import { entry, type Entry, type Target } from '../lib/results.js';
import type { VaultProcess } from '../lib/vault.js';

/** A server a PUT can be sent to: the vault or one of its baselines. */
export interface Side {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** Target of the vault's throughput ratio against this side (baselines only). */
  readonly target?: Target;
}

export interface UploadOptions {
  readonly vault: VaultProcess;
  readonly baselines: readonly Side[];
  readonly store: string;
  readonly bytes: number;
  readonly repetitions: number;
  readonly scratch: string;
  readonly log: (line: string) => void;
}

/** One streamed upload from the bench's own client (seek and RSS figures), with its id. */
export async function uploadOnce(vault: VaultProcess, token: string, bytes: number, callId = `bench-${randomUUID()}`): Promise<{ ms: number; id: string }> {
  const agent = agentFor(vault.ca);
  try {
    const r = await put(agent, `${vault.url}/v1/recordings/${callId}.wav`, wavStream(bytes), bytes, { authorization: `Bearer ${token}` });
    expectStatus(r, [201], 'vault upload');
    return { ms: r.ms, id: (JSON.parse(r.text) as { id: string }).id };
  } finally {
    await agent.close();
  }
}

interface Run {
  readonly mbps: number;
  readonly cpuPerGB: number;
  /** The event loop's share of cpuPerGB; the rest is the thread pool (writes, fsync) and GC helpers. */
  readonly mainPerGB: number;
  readonly clientPerGB: number;
}

export async function runUpload(opts: UploadOptions): Promise<Entry[]> {
  const caFile = opts.vault.config.http.tls.cert.file;
  const token = await opts.vault.token('pbx');
  const vault: Side = { name: 'vault', url: `${opts.vault.url}/v1/recordings/`, pid: opts.vault.pid };
  const sides = [vault, ...opts.baselines];
  const headers = (s: Side): Record<string, string> => (s === vault ? { authorization: `Bearer ${token}` } : {});
  const url = (s: Side): string => (s === vault ? `${s.url}bench-${randomUUID()}.wav` : s.url);
  const once = async (s: Side, file: string, bytes: number): Promise<Run> => {
    const before = await threadCpuSeconds(s.pid);
    const r = await curlPut(url(s), file, caFile, headers(s));
    expectStatus(r, [201], `${s.name} upload`);
    const after = await threadCpuSeconds(s.pid);
    const gb = bytes / 1e9;
    const main = after.main - before.main;
    return { mbps: bytes / 1e6 / (r.ms / 1000), cpuPerGB: (main + after.others - before.others) / gb, mainPerGB: main / gb, clientPerGB: r.clientCpu / gb };
  };
  const warm = await wavFile(path.join(opts.scratch, 'warm.wav'), 8 * MiB);
  for (const s of sides) await once(s, warm, 8 * MiB);
  const file = await wavFile(path.join(opts.scratch, `upload-${opts.bytes}.wav`), opts.bytes);
  const runs = new Map<Side, Run[]>(sides.map((s) => [s, []]));
  for (let rep = 0; rep < opts.repetitions; rep++) {
    const order = [...sides.slice(rep % sides.length), ...sides.slice(0, rep % sides.length)];
    for (const s of order) runs.get(s)?.push(await once(s, file, opts.bytes));
    opts.log(`  ${opts.store}: ${sides.map((s) => {
      const r = runs.get(s)?.at(-1);
      return `${s.name} ${r?.mbps.toFixed(1)} MB/s, ${r?.cpuPerGB.toFixed(2)} s/GB (event loop ${r?.mainPerGB.toFixed(2)})`;
    }).join('; ')}`);
  }
  const best = (s: Side): Run => {
    const rs = runs.get(s) ?? [];
    const min = (f: (r: Run) => number): number => Math.min(...rs.map(f));
    return { mbps: Math.max(...rs.map((r) => r.mbps)), cpuPerGB: min((r) => r.cpuPerGB), mainPerGB: min((r) => r.mainPerGB), clientPerGB: min((r) => r.clientPerGB) };
  };
  const v = best(vault);
  const cpuNote = sides.map((s) => {
    const b = best(s);
    return `${s.name} ${b.cpuPerGB.toFixed(2)} s/GB (event loop ${b.mainPerGB.toFixed(2)}; curl ${b.clientPerGB.toFixed(2)})`;
  }).join(', ');
  const notes = `${Math.round(opts.bytes / MiB)} MiB WAV per PUT from curl, best of ${opts.repetitions}, sides rotating; server CPU per GB, lowest of the runs: ${cpuNote}`;
  return opts.baselines.flatMap((b) => {
    const base = best(b);
    return [
      entry({
        name: `single-stream ingest (${opts.store}) vs ${b.name}`, unit: 'MB/s', value: v.mbps, baseline: base.mbps, baselineName: b.name,
        target: b.target ?? { kind: 'none' }, notes,
      }),
      entry({
        name: `server CPU per GB, single stream (${opts.store}) vs ${b.name}`, unit: 's/GB', value: v.cpuPerGB, baseline: base.cpuPerGB, baselineName: b.name,
        target: { kind: 'none' }, notes,
      }),
    ];
  });
}
