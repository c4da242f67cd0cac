/**
 * Child processes of the bench: the vault itself (`node bin/callvault.js serve`) and the raw
 * store server. Servers run apart from the load generator so that the client's work never
 * lands on the server's event loop or in its memory figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Last lines the child wrote, for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Only what a node process needs from the bench's environment: no stray DATABASE_URL or NODE_OPTIONS. */
export function baseEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export interface SpawnOptions {
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** Working directory; the checkout by default. */
  readonly cwd?: string;
  readonly onLine?: (line: string) => void;
}

const running = new Set<ChildProcess>();

/** For an interrupted bench: SIGKILL every child still running (they are all scratch processes). */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

export function spawnNode(opts: SpawnOptions): Child {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...opts.args], {
    cwd: opts.cwd ?? ROOT, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${opts.args.join(' ')}`);
  running.add(child);
  child.once('exit', () => running.delete(child));
  let tail: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      opts.onLine?.(line);
      tail.push(line);
    }
    if (tail.length > 40) tail = tail.slice(-40);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    pid: child.pid,
    process: child,
    tail: () => [...tail, partial].join('\n').trim(),
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface MemoryStatus {
  /** Resident set now, bytes. */
  readonly rss: number;
  /** Peak resident set since start or the last resetPeak(), bytes. */
  readonly peak: number;
}

export async function memoryOf(pid: number): Promise<MemoryStatus> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m?.[1]) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Linux resets VmHWM to the current RSS when "5" is written to clear_refs (proc(5)). */
export async function resetPeak(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** Samples VmRSS every `everyMs` until stopped; the kernel's VmHWM is the authoritative peak. */
export function sampleRss(pid: number, everyMs = 50): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const m = await memoryOf(pid).catch(() => null);
      if (m) max = Math.max(max, m.rss);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

/** Starts a bench server script (bench/servers/*.ts) and waits for its `{"listening":port}` line. */
export async function spawnServer(script: string, env: Record<string, string>, nodeFlags: readonly string[] = []): Promise<{ child: Child; port: number }> {
  let announce: (port: number) => void = () => undefined;
  const listening = new Promise<number>((resolve) => { announce = resolve; });
  const child = spawnNode({
    args: ['--import', 'tsx', script], env: { ...baseEnv(), ...env }, nodeFlags,
    onLine: (line) => {
      const m = /^\{"listening":(\d+)\}$/.exec(line.trim());
      if (m?.[1]) announce(Number(m[1]));
    },
  });
  const failed = new Promise<never>((_resolve, reject) => {
    child.process.once('exit', (code) => reject(new Error(`${script} exited (${code}) before listening:\n${child.tail()}`)));
  });
  const timeout = new Promise<never>((_resolve, reject) => {
    setTimeout(() => reject(new Error(`${script} did not listen within 30 s:\n${child.tail()}`)), 30_000).unref();
  });
  try {
    return { child, port: await Promise.race([listening, failed, timeout]) };
  } catch (err) {
    await child.stop(2_000);
    throw err;
  }
}

/** User + system CPU seconds the process has used so far (/proc/<pid>/stat, fields 14 and 15). */
export async function cpuSeconds(pid: number, tid?: number): Promise<number> {
  const stat = await readFile(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS;
}

/**
 * CPU seconds of the process's main thread (the event loop: JavaScript, TLS, hashing, ciphers)
 * and of all its other threads together (libuv's thread pool doing file writes and fsyncs, V8's
 * GC helpers), from /proc/<pid>/task. Threads that ended since are missing from `others`.
 */
export async function threadCpuSeconds(pid: number): Promise<{ main: number; others: number }> {
  let others = 0;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    if (Number(tid) !== pid) others += await cpuSeconds(pid, Number(tid)).catch(() => 0);
  }
  return { main: await cpuSeconds(pid, pid), others };
}

/** USER_HZ: 100 on every Linux architecture node runs on. */
const CLOCK_TICKS = 100;
