/**
 * Figure 5 (and the upload half of figure 6): many PBXs at once. `clients` concurrent loops on
 * one undici Agent with as many keep-alive connections each PUT a 2 MiB WAV, against the same
 * load of PUTs into the durable sink (write and fsync, bench/servers/sink.ts). Rounds alternate
 * sink and vault so that drift in the machine's speed lands on both. The client's own CPU is
 * reported beside the servers'. Key-service calls are read from the vault's own /metrics around
 * the vault rounds.
 */
import { randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import { cpuSeconds } from '../lib/children.js';
import { agentFor, expectStatus, percentile, put } from '../lib/http.js';
import { MiB, wavBuffer } from '../lib/payload.js';
import type { SinkServer } from '../lib/raw.js';
import { entry, type Entry } from '../lib/results.js';
import type { VaultProcess } from '../lib/vault.js';

export interface IngestOptions {
  readonly vault: VaultProcess;
  readonly sink: SinkServer;
  readonly uploads: number;
  readonly bytes: number;
  readonly clients: number;
  readonly log: (line: string) => void;
}

interface Load { elapsedMs: number; latencies: number[]; cpu: number; clientCpu: number }

/** `n` requests from `clients` loops; `pid` is the server whose CPU time is recorded. */
async function load(n: number, clients: number, pid: number, one: () => Promise<number>): Promise<Load> {
  let next = 0;
  const latencies: number[] = [];
  const cpuBefore = await cpuSeconds(pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < n) {
      next += 1;
      latencies.push(await one());
    }
  }));
  const elapsedMs = performance.now() - started;
  const client = process.cpuUsage(clientBefore);
  return { elapsedMs, latencies, cpu: (await cpuSeconds(pid)) - cpuBefore, clientCpu: (client.user + client.system) / 1e6 };
}

function merge(a: Load, b: Load): Load {
  return { elapsedMs: a.elapsedMs + b.elapsedMs, latencies: [...a.latencies, ...b.latencies], cpu: a.cpu + b.cpu, clientCpu: a.clientCpu + b.clientCpu };
}

/** Raw and vault alternate this many times, each round doing uploads / ROUNDS. */
const ROUNDS = 4;

export const INGEST_TOOL = 'undici 7 (Agent with one keep-alive connection per client)';

export async function runIngest(opts: IngestOptions): Promise<Entry[]> {
  const body = wavBuffer(opts.bytes);
  const token = await opts.vault.token('pbx');
  const vaultAgent: Agent = agentFor(opts.vault.ca, opts.clients);
  const rawAgent: Agent = agentFor(opts.vault.ca, opts.clients);
  const vaultPut = async (): Promise<number> => {
    const r = await put(vaultAgent, `${opts.vault.url}/v1/recordings/ingest-${randomUUID()}.wav`, body, body.length, { authorization: `Bearer ${token}` });
    expectStatus(r, [201], 'vault upload');
    return r.ms;
  };
  const rawPut = async (): Promise<number> => {
    const r = await put(rawAgent, opts.sink.durableUrl, body, body.length);
    expectStatus(r, [201], 'durable sink upload');
    return r.ms;
  };
  try {
    const { pid: rawPid } = opts.sink;
    const { pid: vaultPid } = opts.vault;
    await load(opts.clients, opts.clients, rawPid, rawPut);
    await load(opts.clients, opts.clients, vaultPid, vaultPut);
    const perRound = Math.ceil(opts.uploads / ROUNDS);
    let raw: Load = { elapsedMs: 0, latencies: [], cpu: 0, clientCpu: 0 };
    let vault: Load = { elapsedMs: 0, latencies: [], cpu: 0, clientCpu: 0 };
    const callsBefore = await opts.vault.keyServiceCalls();
    for (let round = 0; round < ROUNDS; round++) {
      raw = merge(raw, await load(perRound, opts.clients, rawPid, rawPut));
      vault = merge(vault, await load(perRound, opts.clients, vaultPid, vaultPut));
    }
    const calls = (await opts.vault.keyServiceCalls()) - callsBefore;
    return report(opts, vault, raw, calls);
  } finally {
    await vaultAgent.close();
    await rawAgent.close();
  }
}

function report(opts: IngestOptions, vault: Load, raw: Load, calls: number): Entry[] {
  const rate = (l: Load): number => l.latencies.length / (l.elapsedMs / 1000);
  const sorted = (l: Load): number[] => [...l.latencies].sort((a, b) => a - b);
  const v = sorted(vault);
  const r = sorted(raw);
  const load = `${opts.clients} clients, ${vault.latencies.length} uploads of ${opts.bytes / MiB} MiB each side, ${INGEST_TOOL}`;
  const gb = (l: Load): number => (l.latencies.length * opts.bytes) / 1e9;
  const cost = (l: Load): string => `server ${(l.cpu / gb(l)).toFixed(2)} s/GB, client ${(l.clientCpu / gb(l)).toFixed(2)} s/GB`;
  const base = 'durable sink (write + fsync), same load';
  opts.log(`  vault ${rate(vault).toFixed(1)}/s p50 ${percentile(v, 50).toFixed(0)} ms p99 ${percentile(v, 99).toFixed(0)} ms ${cost(vault)}; sink ${rate(raw).toFixed(1)}/s p50 ${percentile(r, 50).toFixed(0)} ms p99 ${percentile(r, 99).toFixed(0)} ms ${cost(raw)}`);
  return [
    entry({
      name: 'concurrent ingest', unit: 'uploads/s', value: rate(vault), baseline: rate(raw), baselineName: base,
      target: { kind: 'ratio-min', value: 0.8 },
      notes: `${load}; p50 ${percentile(v, 50).toFixed(0)} ms / p99 ${percentile(v, 99).toFixed(0)} ms (sink: ${percentile(r, 50).toFixed(0)} / ${percentile(r, 99).toFixed(0)} ms); vault ${cost(vault)}; sink ${cost(raw)}`,
    }),
    entry({
      name: 'concurrent ingest server CPU per GB', unit: 's/GB', value: vault.cpu / gb(vault), baseline: raw.cpu / gb(raw), baselineName: base,
      target: { kind: 'none' }, notes: `${load}; client (bench process) ${(vault.clientCpu / gb(vault)).toFixed(2)} s/GB during vault rounds, ${(raw.clientCpu / gb(raw)).toFixed(2)} during sink rounds`,
    }),
    entry({
      name: 'concurrent ingest p50 latency', unit: 'ms', value: percentile(v, 50), baseline: percentile(r, 50), baselineName: base,
      target: { kind: 'none' }, notes: load,
    }),
    entry({
      name: 'concurrent ingest p99 latency', unit: 'ms', value: percentile(v, 99), baseline: percentile(r, 99), baselineName: base,
      target: { kind: 'none' }, notes: load,
    }),
    entry({
      name: 'key-service calls per upload', unit: 'calls', value: calls, baseline: vault.latencies.length, baselineName: 'uploads (201 Created)',
      target: { kind: 'ratio-eq', value: 1 },
      notes: 'delta of callvault_key_service_calls_total on the vault\'s /metrics over the measured uploads; ratio = calls per upload',
    }),
  ];
}
