/**
 * `npm test`: starts one embedded PostgreSQL for the whole run, migrates a template database,
 * then runs every test file (or the files/directories given as arguments) with node's test
 * runner. Each file clones its own database from the template, so files run in parallel.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrate } from '../src/db/migrate.js';
import { APP_ROLE, OWNER_ROLE, clusterUrl, type ClusterInfo } from './helpers/cluster.js';
import { scratchDir } from './helpers/scratch.js';

const root = path.resolve(import.meta.dirname, '..');

async function findTests(target: string): Promise<string[]> {
  const s = await stat(target);
  if (s.isFile()) return target.endsWith('.test.ts') ? [target] : [];
  const out: string[] = [];
  for (const entry of (await readdir(target)).sort()) {
    if (entry === 'node_modules' || entry === 'helpers') continue;
    out.push(...(await findTests(path.join(target, entry))));
  }
  return out;
}

async function prepareCluster(server: EmbeddedPostgres, superuserPassword: string): Promise<ClusterInfo> {
  const info: ClusterInfo = {
    port: server.port, superuserPassword,
    ownerPassword: randomBytes(12).toString('hex'), appPassword: randomBytes(12).toString('hex'), template: 'callvault_template',
  };
  const c = new pg.Client({ connectionString: clusterUrl(info, 'postgres', 'superuser') });
  await c.connect();
  await c.query(`CREATE ROLE ${OWNER_ROLE} LOGIN PASSWORD '${info.ownerPassword}'`);
  await c.query(`CREATE ROLE ${APP_ROLE} LOGIN PASSWORD '${info.appPassword}'`);
  await c.query(`CREATE DATABASE ${info.template} OWNER ${OWNER_ROLE}`);
  await c.end();
  await migrate(clusterUrl(info, info.template, 'owner'), clusterUrl(info, info.template, 'app'));
  return info;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const targets = args.length > 0 ? args.map((a) => path.resolve(a)) : [path.join(root, 'test')];
  const files = (await Promise.all(targets.map(findTests))).flat();
  if (files.length === 0) throw new Error(`no test files under ${targets.join(', ')}`);

  const scratch = await scratchDir('callvault-test-');
  const server = await EmbeddedPostgres.start({ dir: path.join(scratch, 'pg') });
  const superuserPassword = new URL(server.url()).password;
  try {
    const info = await prepareCluster(server, decodeURIComponent(superuserPassword));
    const concurrency = Number(process.env.TEST_CONCURRENCY ?? Math.max(2, os.cpus().length));
    const child = spawn(process.execPath, [
      '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...files,
    ], { stdio: 'inherit', env: { ...process.env, CALLVAULT_TEST_CLUSTER: JSON.stringify(info) } });
    const forward = (sig: NodeJS.Signals): void => { child.kill(sig); };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return await new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  } finally {
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
    await rm(server.dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
