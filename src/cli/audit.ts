import { cliAuditAnchor, cliAuditExport, cliAuditVerify, type AuditCliDeps } from '../audit/cli.js';
import type { AuditExportFormat } from '../audit/export.js';
import { optionText, type Invocation } from './parse.js';
import { withDeps } from './with-deps.js';

/** The vault's own audit services: its database, audit log, store and anchor key. */
function withAuditDeps(run: (deps: AuditCliDeps) => Promise<number>): Promise<number> {
  return withDeps((deps) => run({
    db: deps.db, audit: deps.audit, store: deps.store, auditLogs: deps.auditLogs,
    anchorKeyFile: deps.config.audit.anchorKey.file, generateAnchorKey: deps.config.audit.anchorKey.generate,
    checkpoints: deps.checkpoints,
  }));
}

/**
 * `callvault audit verify`. A FILE is verified offline: no configuration is read and nothing is
 * created, started or opened, so an auditor can run it anywhere with the file, the anchors and
 * the public key. Without FILE the vault's own table is verified.
 */
export async function runAuditVerify(inv: Invocation): Promise<number> {
  const [file, newer] = inv.positionals;
  const publicKeyFile = optionText(inv, 'public-key');
  if (inv.values.consistency === true && file && newer && publicKeyFile) {
    const { cliVerifyConsistency } = await import('../audit/log-cli.js');
    return cliVerifyConsistency({
      older: file, newer, publicKeyFile, proofFile: optionText(inv, 'proof'), vault: optionText(inv, 'vault'), tokenFile: optionText(inv, 'token-file'),
      caFile: optionText(inv, 'ca'),
    }, {});
  }
  const request = {
    file, anchorsDir: optionText(inv, 'anchors'), publicKeyFile, complete: inv.values.complete === true, checkpointFile: optionText(inv, 'checkpoint'),
  };
  if (request.file) return cliAuditVerify(request, {});
  return withAuditDeps((deps) => cliAuditVerify(request, deps));
}

export function runAuditAnchor(): Promise<number> {
  return withAuditDeps((deps) => cliAuditAnchor(deps));
}

export function runAuditExport(inv: Invocation): Promise<number> {
  const request = {
    output: inv.positionals[0] ?? optionText(inv, 'output'), tenant: optionText(inv, 'tenant'), system: inv.values.system === true,
    format: optionText(inv, 'format') as AuditExportFormat | undefined,
  };
  return withAuditDeps((deps) => cliAuditExport(request, deps));
}

/** `callvault audit tail`: a client of the vault's API; reads no configuration. SIGINT or SIGTERM end --follow. */
export async function runAuditTail(inv: Invocation): Promise<number> {
  const { runTail } = await import('../audit/tail.js');
  const stop = new AbortController();
  const end = (): void => stop.abort();
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  try {
    return await runTail({
      vault: optionText(inv, 'vault') ?? '', tokenFile: optionText(inv, 'token-file') ?? '', caFile: optionText(inv, 'ca'),
      after: Number(optionText(inv, 'after') ?? 0), follow: inv.values.follow === true, signal: stop.signal,
    }, process.stdout, process.stderr);
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
  }
}
