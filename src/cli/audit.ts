import { cliAuditAnchor, cliAuditExport, cliAuditVerify, type AuditCliDeps } from '../audit/cli.js';
import { loadConfig } from '../config/config.js';
import { withDeps } from './with-deps.js';

const USAGE = `usage: callvault audit verify [FILE] [--anchors DIR] [--public-key PEM] [--complete]
       callvault audit anchor
       callvault audit export FILE [--tenant T] [--format ndjson|csv]
`;

/**
 * `callvault audit …`. Verifying a file needs no database: it runs offline against the public
 * anchor key. Everything else connects with the service's configuration.
 */
export async function runAudit(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'verify' && sub !== 'anchor' && sub !== 'export') {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfig();
  const base: AuditCliDeps = { anchorKeyFile: config.audit.anchorKey.file, generateAnchorKey: config.audit.anchorKey.generate };
  const offline = sub === 'verify' && rest.some((a) => !a.startsWith('-')) && rest.includes('--anchors');
  if (offline) return cliAuditVerify(rest, base);
  return withDeps((deps) => {
    const full: AuditCliDeps = { ...base, db: deps.db, store: deps.store };
    if (sub === 'verify') return cliAuditVerify(rest, full);
    if (sub === 'anchor') return cliAuditAnchor(full);
    return cliAuditExport(rest, full);
  });
}
