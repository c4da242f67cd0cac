import { userInfo } from 'node:os';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { retireMasterVersion, rewrapDataKeys, rotateMasterKey, setTenantKmsKey, type RotationActor } from '../keys/rotation.js';
import { optionText, type Invocation } from './parse.js';
import { withDeps } from './with-deps.js';

type KeysCommand = 'rotate' | 'rewrap' | 'retire' | 'status';
interface Flags { tenant?: string; kmsKeyId?: string; version?: string; batchSize?: string }

/** `callvault keys …`: the key rotation runbook of docs/retention.md, step by step. */
export async function runKeys(command: KeysCommand, inv: Invocation): Promise<number> {
  const text = (name: string): string | undefined => optionText(inv, name);
  const flags: Flags = { tenant: text('tenant'), kmsKeyId: text('kms-key-id'), version: text('version'), batchSize: text('batch-size') };
  return withDeps(async (deps) => {
    try {
      return await dispatch(deps, command, flags);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      process.stderr.write(`callvault keys ${command}: ${err.message}\n`);
      return 1;
    }
  });
}

function cliActor(): RotationActor {
  let name = 'unknown';
  try { name = userInfo().username; } catch { /* no passwd entry, e.g. in a container */ }
  return { sub: `cli:${name}`, role: null };
}

async function dispatch(deps: Deps, command: KeysCommand, f: Flags): Promise<number> {
  const actor = cliActor();
  if (command === 'rotate' && f.tenant && f.kmsKeyId) {
    const r = await setTenantKmsKey(deps, f.tenant, f.kmsKeyId, actor);
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
      tenant: f.tenant, batchSize: f.batchSize ? Number(f.batchSize) : undefined,
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
