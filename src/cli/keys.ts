import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { retireMasterVersion, rewrapDataKeys, rotateMasterKey, setTenantKmsKey, type RotationActor } from '../keys/rotation.js';
import { withDeps } from './with-deps.js';

const USAGE = `usage: callvault keys rotate                              add a local master key version and make it current
       callvault keys rotate --tenant T --kms-key-id ID  give tenant T its own KMS key (aws-kms)
       callvault keys rewrap [--tenant T]                re-wrap data keys under the current master key
       callvault keys retire --version N                 delete local master vN once no data key uses it
       callvault keys status                             data keys per master key
`;

/** `callvault keys`: the key rotation runbook of docs/retention.md, step by step. */
export async function runKeys(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args, strict: true, allowPositionals: true,
      options: { tenant: { type: 'string' }, 'kms-key-id': { type: 'string' }, version: { type: 'string' }, 'batch-size': { type: 'string' } },
    });
  } catch {
    process.stderr.write(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals.length === 1 ? positionals[0] : undefined;
  if (!command || !['rotate', 'rewrap', 'retire', 'status'].includes(command) || !validFlags(command, values)) {
    process.stderr.write(USAGE);
    return 2;
  }
  return withDeps(async (deps) => {
    try {
      return await dispatch(deps, command, values);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      process.stderr.write(`callvault keys ${command}: ${err.message}\n`);
      return 1;
    }
  });
}

type Flags = { tenant?: string; 'kms-key-id'?: string; version?: string; 'batch-size'?: string };

function validFlags(command: string, f: Flags): boolean {
  if (command === 'rotate') return Boolean(f.tenant) === Boolean(f['kms-key-id']) && !f.version && !f['batch-size'];
  if (command === 'rewrap') return !f['kms-key-id'] && !f.version && (f['batch-size'] === undefined || /^\d{1,5}$/.test(f['batch-size']));
  if (command === 'retire') return /^[1-9]\d{0,8}$/.test(f.version ?? '') && !f.tenant && !f['kms-key-id'];
  return !f.tenant && !f['kms-key-id'] && !f.version;
}

function cliActor(): RotationActor {
  let name = 'unknown';
  try { name = userInfo().username; } catch { /* no passwd entry, e.g. in a container */ }
  return { sub: `cli:${name}`, role: null };
}

async function dispatch(deps: Deps, command: string, f: Flags): Promise<number> {
  const actor = cliActor();
  if (command === 'rotate' && f.tenant && f['kms-key-id']) {
    const r = await setTenantKmsKey(deps, f.tenant, f['kms-key-id'], actor);
    process.stdout.write(`tenant ${f.tenant} now uses KMS key ${r.kmsKeyId} (was ${r.previous ?? 'the default key'}); run \`callvault keys rewrap --tenant ${f.tenant}\`\n`);
    return 0;
  }
  if (command === 'rotate') {
    const r = await rotateMasterKey(deps, actor);
    process.stdout.write(`current master key is now ${r.keyRef} (was ${r.previous}); restart running servers, then run \`callvault keys rewrap\`\n`);
    return 0;
  }
  if (command === 'rewrap') {
    const r = await rewrapDataKeys(deps, actor, {
      tenant: f.tenant, batchSize: f['batch-size'] ? Number(f['batch-size']) : undefined,
      onProgress: (p) => process.stderr.write(`rewrap ${p.tenant}: ${p.rewrapped} done, ${p.failed} failed\n`),
    });
    for (const t of r.tenants) process.stdout.write(`${t.tenant}\t${t.keyRef}\trewrapped ${t.rewrapped}\tfailed ${t.failed}\n`);
    process.stdout.write(`rewrapped ${r.rewrapped} data key(s), ${r.failed} failed${r.failed ? ' (run rewrap again to retry them)' : ''}\n`);
    return r.failed > 0 ? 1 : 0;
  }
  if (command === 'retire') {
    await retireMasterVersion(deps, Number(f.version), actor);
    process.stdout.write(`master key local:v${f.version} retired\n`);
    return 0;
  }
  const rows = await deps.db('recordings').select('key_ref').count<{ key_ref: string; count: number }[]>('* as count')
    .whereNotNull('wrapped_key').groupBy('key_ref').orderBy('key_ref');
  process.stdout.write(`current: ${deps.keyAdmin.currentKeyRef()}\n`);
  for (const r of rows) process.stdout.write(`${r.key_ref}\t${Number(r.count)}\n`);
  return 0;
}
