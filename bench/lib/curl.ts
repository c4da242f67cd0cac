/**
 * The single-stream client: curl, so that the client is never what limits a transfer (it
 * streams a page-cached file through OpenSSL in its own process) and every server is driven
 * identically. Its CPU time comes from the shell's `times` after curl exits.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { baseEnv } from './children.js';
import { wavStream } from './payload.js';

export interface CurlResult {
  readonly status: number;
  readonly ms: number;
  readonly text: string;
  /** User + system CPU seconds of curl itself. */
  readonly clientCpu: number;
}

/** Writes a generated WAV of `bytes` to `file` (read back from the page cache by curl). */
export async function wavFile(file: string, bytes: number): Promise<string> {
  await pipeline(wavStream(bytes), createWriteStream(file));
  return file;
}

const SCRIPT = 'curl "$@"; rc=$?; times >&2; exit $rc';

export async function curlPut(url: string, file: string, caFile: string, headers: Record<string, string> = {}): Promise<CurlResult> {
  const out = `${file}.${process.hrtime.bigint()}.out`;
  const args = [
    '-sS', '--cacert', caFile, '-X', 'PUT', '-T', file, '-o', out, '-w', '%{http_code} %{time_total}',
    '-H', 'Expect:', '-H', 'content-type: audio/wav',
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url,
  ];
  const child = spawn('sh', ['-c', SCRIPT, 'sh', ...args], { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const text = await readFile(out, 'utf8').catch(() => '');
  await rm(out, { force: true });
  const [status, seconds] = stdout.trim().split(' ');
  if (code !== 0 || !status || !seconds) throw new Error(`curl failed (${code}): ${stderr.trim().slice(0, 300)}`);
  return { status: Number(status), ms: Number(seconds) * 1000, text, clientCpu: childrenCpu(stderr) };
}

/** The second line of `times`: user and system time of the shell's children, as "0m1.234s 0m0.567s". */
function childrenCpu(timesOutput: string): number {
  const line = timesOutput.trim().split('\n').at(-1) ?? '';
  let total = 0;
  for (const m of line.matchAll(/(\d+)m([\d.]+)s/g)) total += Number(m[1]) * 60 + Number(m[2]);
  return total;
}
