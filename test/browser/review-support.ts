/**
 * Recordings and audit reads for the console's review walks: a long stereo call (the stereo
 * fixture, agent left and customer right, repeated) so that the player's seek needs a Range
 * request of its own, and the tenant's audit events read back through the API.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { call, wavHeader } from '../access/support.js';
import { fixturePath } from '../helpers/fixtures.js';
import type { TestVault } from '../helpers/vault.js';

export const STEREO_BYTES_PER_SECOND = 8000 * 2 * 2;

/** The stereo fixture's samples `repeats` times over, streamed under one WAV header. */
export async function longStereoCall(repeats: number): Promise<{ body: Readable; seconds: number }> {
  const file = await readFile(fixturePath('call-pcm16-8k-stereo.wav'));
  const at = file.indexOf('data', 12, 'latin1');
  const data = file.subarray(at + 8, at + 8 + file.readUInt32LE(at + 4));
  const header = wavHeader(data.length * repeats, { channels: 2, rate: 8000, bits: 16 });
  const body = Readable.from((function* () {
    yield header;
    for (let i = 0; i < repeats; i++) yield data;
  })());
  return { body, seconds: (data.length * repeats) / STEREO_BYTES_PER_SECOND };
}

export interface ApiAuditEvent {
  seq: number; action: string; outcome: string; actorSub: string; recordingId: string | null; linkId: string | null;
  details: Record<string, unknown>;
}

/** The tenant's audit events through GET /v1/audit-events (NDJSON), as a compliance officer reads them. */
export async function auditEvents(vault: TestVault, query: Record<string, string>): Promise<ApiAuditEvent[]> {
  const token = await vault.token('compliance', { sub: 'auditor-1' });
  const res = await call(vault, { method: 'GET', path: `/v1/audit-events?${new URLSearchParams(query).toString()}`, token });
  if (res.status !== 200) throw new Error(`audit export answered ${res.status}: ${res.body.toString()}`);
  // The export ends with the signed checkpoint that covers it: a line that is no event.
  const lines = res.body.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line) as ApiAuditEvent | { checkpoint: string });
  return lines.filter((line): line is ApiAuditEvent => !('checkpoint' in line));
}
