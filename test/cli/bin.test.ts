/**
 * bin/callvault.js runs the compiled build and nothing else: no TypeScript loader on the path of
 * every command, and a plain instruction when the build is missing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

async function installBin(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'callvault-bin-'));
  await mkdir(path.join(dir, 'bin'));
  await copyFile(path.join(ROOT, 'bin', 'callvault.js'), path.join(dir, 'bin', 'callvault.js'));
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}\n');
  return dir;
}

describe('bin/callvault.js', () => {
  test('without dist/ it says to run npm run build and exits 1', async () => {
    const dir = await installBin();
    try {
      const res = await run(process.execPath, [path.join(dir, 'bin', 'callvault.js'), '--help']).then(() => null, (err: { code: number; stderr: string }) => err);
      assert.ok(res, 'the bin must fail without a build');
      assert.equal(res.code, 1);
      assert.match(res.stderr, /the compiled build \(dist\/\) is missing; run `npm run build`/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('with dist/ it runs dist/src/cli/main.js with the arguments, and never loads tsx', async () => {
    const dir = await installBin();
    try {
      await mkdir(path.join(dir, 'dist', 'src', 'cli'), { recursive: true });
      await writeFile(path.join(dir, 'dist', 'src', 'cli', 'main.js'), 'process.stdout.write(`compiled ${process.argv.slice(2).join(" ")}`);\n');
      const { stdout } = await run(process.execPath, [path.join(dir, 'bin', 'callvault.js'), 'audit', 'verify']);
      assert.equal(stdout, 'compiled audit verify');
      assert.doesNotMatch(await readFile(path.join(ROOT, 'bin', 'callvault.js'), 'utf8'), /tsx/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('npm ci builds (prepare), npm start serves the build, npm run dev runs the sources', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    assert.equal(pkg.scripts.prepare, 'npm run build');
    assert.match(pkg.scripts.build ?? '', /^tsc -p tsconfig\.build\.json && /);
    assert.match(pkg.scripts.start ?? '', /^node (--\S+ )*bin\/callvault\.js serve$/);
    assert.match(pkg.scripts.dev ?? '', /--import tsx src\/cli\/main\.ts$/);
    assert.equal(pkg.bin.callvault, 'bin/callvault.js');
  });
});
