/**
 * The vault as it ships: compiled JavaScript run by bin/callvault.js, which runs dist/ (as after
 * `npm ci` and in the container image). Running from sources instead would
 * add tsx's loader thread and its transpile caches to every memory figure. Files are transpiled
 * one by one with TypeScript's own transpileModule (the same emit as `npm run build`, without the
 * type check, which `npm run typecheck` covers) into node_modules/.cache, so that packages
 * resolve from the checkout's node_modules and nothing lands in the working tree.
 */
import { createHash } from 'node:crypto';
import { access, copyFile, cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from './children.js';

const OUT = path.join(ROOT, 'node_modules', '.cache', 'callvault-bench-builds');

async function* sources(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(full);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield full;
  }
}

async function allSources(): Promise<Array<{ file: string; text: string }>> {
  const out: Array<{ file: string; text: string }> = [];
  for (const dir of ['src', 'migrations']) {
    for await (const file of sources(path.join(ROOT, dir))) out.push({ file, text: await readFile(file, 'utf8') });
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * Compiles src/ and migrations/ and returns the path of the built bin/callvault.js. The build is
 * kept, keyed by a hash of every source, and reused while no source has changed.
 */
export async function buildVault(): Promise<string> {
  const files = await allSources();
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.file}\0${f.text}\0`);
  hash.update(await readFile(path.join(ROOT, 'bin', 'callvault.js')));
  // One directory per source hash, written aside and renamed into place: checkouts that share
  // node_modules may build and run different sources at the same time.
  const out = path.join(OUT, hash.digest('hex').slice(0, 16));
  const bin = path.join(out, 'bin', 'callvault.js');
  if (await access(bin).then(() => true, () => false)) return bin;
  const tmp = `${out}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  const options: ts.CompilerOptions = { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false };
  for (const { file, text } of files) {
    const dest = path.join(tmp, 'dist', path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    const { outputText } = ts.transpileModule(text, { compilerOptions: options, fileName: file });
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, outputText);
  }
  await mkdir(path.join(tmp, 'bin'), { recursive: true });
  await copyFile(path.join(ROOT, 'package.json'), path.join(tmp, 'package.json'));
  await copyFile(path.join(ROOT, 'openapi.yaml'), path.join(tmp, 'dist', 'openapi.yaml')).catch(() => undefined);
  // The console's browser modules ship as written, next to the compiled routes (as `npm run build` copies them).
  await cp(path.join(ROOT, 'src', 'console', 'assets'), path.join(tmp, 'dist', 'src', 'console', 'assets'), { recursive: true }).catch(() => undefined);
  await copyFile(path.join(ROOT, 'bin', 'callvault.js'), path.join(tmp, 'bin', 'callvault.js'));
  await rename(tmp, out).catch(async (err: unknown) => {
    await rm(tmp, { recursive: true, force: true });
    // Another run built the same sources first: its build is identical.
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  });
  return bin;
}

/**
 * Node flags the container gives the vault (NODE_OPTIONS in docker/Dockerfile's ENV), so that
 * the bench runs the vault with the same heap settings as a deployment; none when unset.
 */
export async function deploymentNodeOptions(): Promise<string[]> {
  const dockerfile = await readFile(path.join(ROOT, 'docker', 'Dockerfile'), 'utf8').catch(() => '');
  const m = /\bNODE_OPTIONS=(?:"([^"]*)"|(\S+))/.exec(dockerfile);
  return (m?.[1] ?? m?.[2] ?? '').split(/\s+/).filter(Boolean);
}
