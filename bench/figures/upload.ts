/**
 * Figure 2: one large HTTPS PUT end to end through the vault (auth, sniffing, hashing,
 * encryption, store, row and audit event), against a raw PUT of the same bytes over the same TLS
 * into the same store. Vault and raw server are child processes; repetitions alternate between
 * them (and which goes first) and the best of each counts: on a shared machine noise only ever
 * slows a transfer down.
 */
import { randomUUID } from 'node:crypto';
import { cpuSeconds } from '../lib/children.js';
import { agentFor, expectStatus, put } from '../lib/http.js';
import { MiB, wavStream } from '../lib/payload.js';
import type { RawServer } from '../lib/raw.js';
import { entry, type Entry } from '../lib/results.js';
import type { VaultProcess } from '../lib/vault.js';

export interface UploadOptions {
  readonly vault: VaultProcess;
  readonly raw: RawServer;
  readonly store: string;
  readonly bytes: number;
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

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

async function rawOnce(raw: RawServer, bytes: number): Promise<number> {
  const agent = agentFor(raw.ca);
  try {
    const r = await put(agent, `${raw.url}/raw`, wavStream(bytes), bytes);
    expectStatus(r, [201], 'raw upload');
    return r.ms;
  } finally {
    await agent.close();
  }
}

interface Run { readonly mbps: number; readonly cpuPerGB: number }

/** One timed transfer, with the server's CPU seconds per GB (the noise-resistant view of its cost). */
async function measured(pid: number, bytes: number, transfer: () => Promise<number>): Promise<Run> {
  const cpu = await cpuSeconds(pid);
  const ms = await transfer();
  return { mbps: bytes / 1e6 / (ms / 1000), cpuPerGB: ((await cpuSeconds(pid)) - cpu) / (bytes / 1e9) };
}

export async function runUpload(opts: UploadOptions): Promise<Entry> {
  const token = await opts.vault.token('pbx');
  await uploadOnce(opts.vault, token, 8 * MiB);
  await rawOnce(opts.raw, 8 * MiB);
  const vault = (): Promise<Run> => measured(opts.vault.pid, opts.bytes, async () => (await uploadOnce(opts.vault, token, opts.bytes)).ms);
  const raw = (): Promise<Run> => measured(opts.raw.pid, opts.bytes, () => rawOnce(opts.raw, opts.bytes));
  const runs = { vault: [] as Run[], raw: [] as Run[] };
  for (let rep = 0; rep < opts.repetitions; rep++) {
    if (rep % 2 === 0) {
      runs.raw.push(await raw());
      runs.vault.push(await vault());
    } else {
      runs.vault.push(await vault());
      runs.raw.push(await raw());
    }
    opts.log(`  ${opts.store}: vault ${runs.vault.at(-1)?.mbps.toFixed(1)} MB/s, raw ${runs.raw.at(-1)?.mbps.toFixed(1)} MB/s`);
  }
  const best = (rs: Run[]): number => Math.max(...rs.map((r) => r.mbps));
  const cpu = (rs: Run[]): number => Math.min(...rs.map((r) => r.cpuPerGB));
  return entry({
    name: `upload pipeline (${opts.store})`, unit: 'MB/s', value: best(runs.vault), baseline: best(runs.raw), baselineName: `raw HTTPS PUT into ${opts.store} store`,
    target: { kind: 'ratio-min', value: 0.85 },
    notes: `${Math.round(opts.bytes / MiB)} MiB WAV per PUT, best of ${opts.repetitions}; vault and raw server are separate processes on the same TLS certificate and store; `
      + `server CPU ${cpu(runs.vault).toFixed(1)} s/GB (raw ${cpu(runs.raw).toFixed(1)} s/GB)`,
  });
}
