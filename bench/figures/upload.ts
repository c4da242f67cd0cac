/**
 * Figure 2: one large HTTPS PUT end to end through the vault (auth, sniffing, hashing,
 * encryption, store, row and audit event), against a raw PUT of the same bytes over the same TLS
 * into the same store. Vault and raw server are child processes; repetitions alternate between
 * them (and which goes first) and the best of each counts: on a shared machine noise only ever
 * slows a transfer down.
 */
import { randomUUID } from 'node:crypto';
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

export async function runUpload(opts: UploadOptions): Promise<Entry> {
  const token = await opts.vault.token('pbx');
  await uploadOnce(opts.vault, token, 8 * MiB);
  await rawOnce(opts.raw, 8 * MiB);
  const mbps = (ms: number): number => opts.bytes / 1e6 / (ms / 1000);
  const vault = async (): Promise<number> => mbps((await uploadOnce(opts.vault, token, opts.bytes)).ms);
  const raw = async (): Promise<number> => mbps(await rawOnce(opts.raw, opts.bytes));
  let best = { vault: 0, raw: 0 };
  for (let rep = 0; rep < opts.repetitions; rep++) {
    let r: number;
    let v: number;
    if (rep % 2 === 0) {
      r = await raw();
      v = await vault();
    } else {
      v = await vault();
      r = await raw();
    }
    opts.log(`  ${opts.store}: vault ${v.toFixed(1)} MB/s, raw ${r.toFixed(1)} MB/s`);
    best = { vault: Math.max(best.vault, v), raw: Math.max(best.raw, r) };
  }
  return entry({
    name: `upload pipeline (${opts.store})`, unit: 'MB/s', value: best.vault, baseline: best.raw, baselineName: `raw HTTPS PUT into ${opts.store} store`,
    target: { kind: 'ratio-min', value: 0.85 },
    notes: `${Math.round(opts.bytes / MiB)} MiB WAV per PUT, best of ${opts.repetitions}; vault and raw server are separate processes on the same TLS certificate and store`,
  });
}
