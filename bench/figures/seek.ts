/**
 * Figure 4 and the playback half of figure 6. A supervisor seeking to the last minute of a long
 * G.711 call should wait no longer than for the first minute: the vault fetches and decrypts only
 * the segments the Range touches. Both requests ask for one minute (480,000 bytes) through the
 * same link; repetitions alternate which goes first; medians count. TTFB is to the first audio byte,
 * so it includes the link check, the durable media.read audit event and the first segment.
 */
import { randomInt } from 'node:crypto';
import type { Agent } from 'undici';
import { agentFor, get, median, postJson } from '../lib/http.js';
import { WAV_HEADER_BYTES } from '../lib/payload.js';
import { entry, type Entry } from '../lib/results.js';
import type { VaultProcess } from '../lib/vault.js';
import { uploadOnce } from './upload.js';

export interface SeekOptions {
  readonly vault: VaultProcess;
  readonly seconds: number;
  readonly repetitions: number;
  readonly log: (line: string) => void;
}

const G711_BYTES_PER_SECOND = 8000;
const MINUTE = 60 * G711_BYTES_PER_SECOND;
const PLAYBACK_RANGES = 20;

/** The path of a freshly issued link, to be fetched on the vault's own address. */
async function issueLink(vault: VaultProcess, agent: Agent, recordingId: string): Promise<string> {
  const token = await vault.token('supervisor');
  const res = await postJson<{ url: string }>(agent, `${vault.url}/v1/recordings/${recordingId}/links`, { reason: 'performance bench', ttlSeconds: 1800 }, token);
  if (res.status !== 201) throw new Error(`issuing a link answered ${res.status}: ${JSON.stringify(res.json)}`);
  return `${vault.url}${new URL(res.json.url).pathname}`;
}

async function rangeTtfb(agent: Agent, url: string, start: number, endInclusive: number): Promise<number> {
  const r = await get(agent, url, { range: `bytes=${start}-${endInclusive}` });
  if (r.status !== 206 || r.bytes !== endInclusive - start + 1) throw new Error(`Range ${start}-${endInclusive} answered ${r.status} with ${r.bytes} bytes`);
  return r.ttfbMs;
}

export async function runSeek(opts: SeekOptions): Promise<Entry[]> {
  const size = WAV_HEADER_BYTES + opts.seconds * G711_BYTES_PER_SECOND;
  const pbx = await opts.vault.token('pbx');
  const agent = agentFor(opts.vault.ca);
  try {
    const { id } = await uploadOnce(opts.vault, pbx, size);
    const link = await issueLink(opts.vault, agent, id);
    const atStart = (): Promise<number> => rangeTtfb(agent, link, 0, MINUTE - 1);
    const atEnd = (): Promise<number> => rangeTtfb(agent, link, size - MINUTE, size - 1);
    await atStart();
    await atEnd();
    const starts: number[] = [];
    const ends: number[] = [];
    // Alternating which goes first keeps any effect of order (caches, a request just served) off one side.
    for (let i = 0; i < opts.repetitions; i++) {
      if (i % 2 === 0) {
        starts.push(await atStart());
        ends.push(await atEnd());
      } else {
        ends.push(await atEnd());
        starts.push(await atStart());
      }
    }
    const seek = median(ends);
    const first = median(starts);
    opts.log(`  TTFB last minute ${seek.toFixed(1)} ms, first minute ${first.toFixed(1)} ms`);
    const playback = await playbackCalls(opts, agent, pbx);
    const minutes = opts.seconds / 60;
    return [
      entry({
        name: 'seek TTFB (last minute)', unit: 'ms', value: seek, baseline: first, baselineName: 'TTFB of the first minute',
        target: { kind: 'ratio-max', value: 1.5 },
        notes: `${minutes}-minute G.711 WAV (${size} bytes), Range of 480,000 bytes through one link, median of ${opts.repetitions}; `
          + `fastest ${Math.min(...ends).toFixed(1)} vs ${Math.min(...starts).toFixed(1)} ms`,
      }),
      playback,
    ];
  } finally {
    await agent.close();
  }
}

/** A new recording and link, then 20 Range requests at random places, as a supervisor scrubbing. */
async function playbackCalls(opts: SeekOptions, agent: Agent, pbx: string): Promise<Entry> {
  const size = WAV_HEADER_BYTES + Math.min(opts.seconds, 600) * G711_BYTES_PER_SECOND;
  const { id } = await uploadOnce(opts.vault, pbx, size);
  const link = await issueLink(opts.vault, agent, id);
  const before = await opts.vault.keyServiceCalls();
  for (let i = 0; i < PLAYBACK_RANGES; i++) {
    const start = randomInt(0, size - 64 * 1024);
    await rangeTtfb(agent, link, start, start + 64 * 1024 - 1);
  }
  const calls = (await opts.vault.keyServiceCalls()) - before;
  return entry({
    name: 'key-service calls per playback', unit: 'calls', value: calls, baseline: 1, baselineName: 'playbacks (20 Range requests each)',
    target: { kind: 'ratio-max', value: 1 },
    notes: `delta of callvault_key_service_calls_total over ${PLAYBACK_RANGES} Range requests of 64 KiB at random offsets through one link; ratio = calls per playback`,
  });
}
