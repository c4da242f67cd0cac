/**
 * Runs `callvault serve` as a child process against a test database, for tests that measure the
 * server from outside (memory), kill it (crash recovery) or expect it to refuse to start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CLI_ARGS } from './cli.js';
import { freePort } from '../../src/db/embedded-postgres.js';

export interface VaultProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly ca: Buffer;
  output(): string;
  /** Peak resident set size (VmHWM) of the server process, in bytes. */
  peakRss(): Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ServeExit { readonly code: number | null; readonly stdout: string; readonly stderr: string; readonly ms: number }

/** Runs `callvault serve` expecting it to stop on its own (a refusal at start); killed after 20 s. */
export function serveUntilExit(env: Record<string, string>): Promise<ServeExit> {
  const started = Date.now();
  const child = spawn(process.execPath, [...CLI_ARGS, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr, ms: Date.now() - started });
  }));
}

/**
 * A free port is only free until someone binds it: between our probe and the child's listen, an
 * embedded PostgreSQL of a vault started beside it may take it. Such a start is retried on
 * another port; any other failure is the test's.
 */
export async function spawnVault(env: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<VaultProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnVaultOnce(env, opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PortTakenError)) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function spawnVaultOnce(env: Record<string, string>, opts: { timeoutMs?: number }): Promise<VaultProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...CLI_ARGS, 'serve'], {
    env: { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (!out.includes('callvault is listening')) {
    if (child.exitCode !== null) {
      const taken = !env.PORT && out.includes('EADDRINUSE');
      throw new (taken ? PortTakenError : Error)(`vault exited during start:\n${out}`);
    }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`vault did not start:\n${out}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const dataDir = env.CALLVAULT_DATA_DIR ?? './data';
  return {
    child, port, url: `https://127.0.0.1:${port}`, ca: await readFile(path.join(dataDir, 'tls', 'server.crt')),
    output: () => out,
    peakRss: async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      return m ? Number(m[1]) * 1024 : NaN;
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
