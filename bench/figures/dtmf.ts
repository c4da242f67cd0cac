/**
 * DTMF masking (issue 15): the detector's accuracy on generated audio, and what masking costs at
 * ingest. Accuracy runs in this process: 1,000 key presses at the edges of ITU-T Q.24 (40 ms,
 * twist ±6 dB, ±1.5 %, SNR 15 dB, every digit) must all be found, and minutes of generated
 * speech-band noise, voiced sounds and music-like tones must give no detection (the same
 * generators as test/audio/dtmf.test.ts). Cost: the same WAV PUT with curl against the same vault,
 * the tenant's dtmf setting switched between keep and mask, sides rotating, best of each.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DtmfDetector } from '../../src/audio/dtmf.js';
import { edgeOfQ24, seeded, talkOffSecond } from '../../test/helpers/dtmf-audio.js';
import { threadCpuSeconds } from '../lib/children.js';
import { curlPut, wavFile } from '../lib/curl.js';
import { agentFor, expectStatus, putJson } from '../lib/http.js';
import { MiB } from '../lib/payload.js';
import { entry, type Entry } from '../lib/results.js';
import type { VaultProcess } from '../lib/vault.js';

export interface DtmfOptions {
  readonly vault: VaultProcess;
  readonly bytes: number;
  readonly repetitions: number;
  readonly presses: number;
  readonly talkOffSeconds: number;
  readonly scratch: string;
  readonly log: (line: string) => void;
}

function accuracy(presses: number, talkOffSeconds: number): { found: number; falseDetections: number } {
  const { samples, presses: keyed } = edgeOfQ24(8000, presses, 8000);
  const d = new DtmfDetector(8000);
  const tones = [...d.push(samples), ...d.flush()];
  // In order and one for one: a press counts as found when the tone at its place is its digit.
  const found = keyed.filter((p, i) => tones[i]?.digit === p.digit).length;
  const talk = new DtmfDetector(8000);
  const rand = seeded(8011);
  let falseDetections = 0;
  for (let s = 0; s < talkOffSeconds; s++) falseDetections += talk.push(talkOffSecond(8000, s, rand)).length;
  return { found, falseDetections: falseDetections + talk.flush().length };
}

export async function runDtmf(opts: DtmfOptions): Promise<Entry[]> {
  const acc = accuracy(opts.presses, opts.talkOffSeconds);
  opts.log(`  detection: ${acc.found}/${opts.presses} presses, ${acc.falseDetections} false detections in ${opts.talkOffSeconds} s`);
  const caFile = opts.vault.config.http.tls.cert.file;
  const [pbx, admin] = await Promise.all([opts.vault.token('pbx'), opts.vault.token('admin')]);
  const agent = agentFor(opts.vault.ca);
  const setting = async (dtmf: 'keep' | 'mask'): Promise<void> => {
    const r = await putJson<unknown>(agent, `${opts.vault.url}/v1/tenant-settings`, { dtmf }, admin);
    expectStatus(r, [200], `dtmf ${dtmf}`);
  };
  /** Throughput (MB/s) and the vault's CPU seconds per GB (all threads) of one upload. */
  const once = async (dtmf: 'keep' | 'mask', file: string, bytes: number): Promise<{ mbps: number; cpuPerGB: number }> => {
    await setting(dtmf);
    const before = await threadCpuSeconds(opts.vault.pid);
    const r = await curlPut(`${opts.vault.url}/v1/recordings/bench-dtmf-${randomUUID()}.wav`, file, caFile, { authorization: `Bearer ${pbx}` });
    expectStatus(r, [201], `upload with dtmf ${dtmf}`);
    const after = await threadCpuSeconds(opts.vault.pid);
    return { mbps: bytes / 1e6 / (r.ms / 1000), cpuPerGB: (after.main + after.others - before.main - before.others) / (bytes / 1e9) };
  };
  try {
    const warm = await wavFile(path.join(opts.scratch, 'dtmf-warm.wav'), 4 * MiB);
    for (const side of ['keep', 'mask'] as const) await once(side, warm, 4 * MiB);
    const file = await wavFile(path.join(opts.scratch, `dtmf-${opts.bytes}.wav`), opts.bytes);
    const best = { keep: 0, mask: 0 };
    const cpu = { keep: Infinity, mask: Infinity };
    for (let rep = 0; rep < opts.repetitions; rep++) {
      const order = rep % 2 === 0 ? (['mask', 'keep'] as const) : (['keep', 'mask'] as const);
      for (const side of order) {
        const run = await once(side, file, opts.bytes);
        best[side] = Math.max(best[side], run.mbps);
        cpu[side] = Math.min(cpu[side], run.cpuPerGB);
      }
      opts.log(`  masking on ${best.mask.toFixed(1)} MB/s ${cpu.mask.toFixed(2)} s/GB, off ${best.keep.toFixed(1)} MB/s ${cpu.keep.toFixed(2)} s/GB (best so far)`);
    }
    await setting('keep');
    const accuracyNote = `generated 8 kHz audio, in process (test/helpers/dtmf-audio.ts)`;
    const costNote = `${Math.round(opts.bytes / MiB)} MiB G.711 mu-law WAV (random samples: no quiet block to skip) per PUT from curl, best of ${opts.repetitions}, sides rotating`;
    return [
      entry({
        name: 'DTMF presses detected at the edges of Q.24', unit: 'presses', value: acc.found, baseline: opts.presses, baselineName: 'presses generated (40 ms, twist ±6 dB, ±1.5 %, SNR 15 dB)',
        target: { kind: 'ratio-eq', value: 1 }, notes: accuracyNote,
      }),
      entry({
        name: 'DTMF false detections (talk-off)', unit: 'detections', value: acc.falseDetections, baseline: opts.talkOffSeconds / 60, baselineName: 'minutes of speech-band noise, voiced sounds and music-like tones',
        target: { kind: 'value-max', value: 0 }, notes: accuracyNote,
      }),
      entry({
        name: 'single-stream ingest with DTMF masking vs masking off', unit: 'MB/s', value: best.mask, baseline: best.keep, baselineName: 'same vault, tenant setting dtmf keep',
        target: { kind: 'ratio-min', value: 0.7 },
        notes: costNote,
      }),
      entry({
        name: 'server CPU per GB, ingest with DTMF masking vs masking off', unit: 's/GB', value: cpu.mask, baseline: cpu.keep, baselineName: 'same vault, tenant setting dtmf keep',
        target: { kind: 'none' }, notes: `${costNote}; lowest of the runs, every thread of the vault process`,
      }),
    ];
  } finally {
    await agent.close();
  }
}
