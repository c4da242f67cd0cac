import { userInfo } from 'node:os';
import { longestUploadMs } from '../config/schema.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { retireMasterVersion } from '../keys/retire.js';
import { rewrapDataKeys, rotateMasterKey, setTenantKmsKey } from '../keys/rotation.js';
import { countByKeyRef } from '../recordings/key-queries.js';
import { auditActor, type AuditActor } from '../audit/actor.js';
import { optionText, type Invocation } from './parse.js';
import { withDeps } from './with-deps.js';

type KeysCommand = 'rotate' | 'rewrap' | 'retire' | 'status';
interface Flags { tenant?: string; kmsKeyId?: string; version?: string; batchSize?: string }

/**
 * `callvault keys …`: the key rotation runbook of docs/retention.md, step by step. Exit codes: 0
 * done, 1 refused or failed, 2 usage, 75 (EX_TEMPFAIL) `retire` has to wait for its grace.
 */
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

function cliActor(): AuditActor {
  let name = 'unknown';
  try { name = userInfo().username; } catch { /* no passwd entry, e.g. in a container */ }
  return auditActor(`cli:${name}`);
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
    process.stdout.write(`current master key is now ${r.keyRef} (was ${r.previous}); every server wraps new uploads under it from now on; run \`callvault keys rewrap\`\n`);
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
  if (command === 'retire') return retire(deps, Number(f.version), actor);
  const rows = await countByKeyRef(deps.db);
  process.stdout.write(`current: ${deps.keyAdmin.kind === 'local' ? (await deps.keyVersions.active()) ?? deps.keyAdmin.currentKeyRef() : deps.keyAdmin.currentKeyRef()}\n`);
  for (const r of rows) process.stdout.write(`${r.keyRef}\t${r.count}\n`);
  for (const v of await deps.keyVersions.list()) {
    process.stdout.write(`version ${v.keyRef} ${v.state}${v.state === 'retiring' && v.retireAfter ? ` until ${v.retireAfter.toISOString()}` : ''}\n`);
  }
  return 0;
}

const EX_TEMPFAIL = 75;

async function retire(deps: Deps, version: number, actor: AuditActor): Promise<number> {
  const r = await retireMasterVersion(deps, version, actor, { graceMs: longestUploadMs(deps.config.http.requestTimeoutMs) });
  if (r.state === 'retired') {
    process.stdout.write(`master key ${r.keyRef} retired\n`);
    return 0;
  }
  const until = r.retireAfter.toISOString();
  const head = r.started
    ? `master key ${r.keyRef} is now retiring: no new data key is wrapped under it, and uploads already in flight under it may still commit until ${until}`
    : `master key ${r.keyRef} is retiring; its grace period (HTTP_REQUEST_TIMEOUT_MS plus a margin) ends at ${until}`;
  process.stderr.write(`${head}.\nAfter ${until}, run \`callvault keys rewrap\`, then \`callvault keys retire --version ${version}\` again to delete it.\n`);
  return EX_TEMPFAIL;
}
