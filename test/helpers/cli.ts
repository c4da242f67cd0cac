/**
 * The `callvault` command line as tests run it: the TypeScript sources through tsx, from any
 * working directory (the loader is named by its resolved URL, not looked up from the cwd).
 * bin/callvault.js runs the compiled build instead; test/cli/bin.test.ts covers it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const CLI_ARGS: readonly string[] = ['--import', import.meta.resolve('tsx'), path.resolve(import.meta.dirname, '../../src/cli/main.ts')];

export interface CliResult { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** Runs `callvault ...args` to completion with exactly `env` (plus PATH and HOME). */
export function runCallvault(args: readonly string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [...CLI_ARGS, ...args], {
    cwd: opts.cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}
