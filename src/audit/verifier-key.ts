import type { KeyObject } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { SecureRouter } from '../http/secure-router.js';
import { NotFoundError } from '../errors.js';
import { ensureAnchorKey, keyIdOf } from './anchors.js';
import type { AuditLogRegistry } from './logs.js';
import { formatVerifierKey, noteVerifier } from './note.js';

/**
 * GET /v1/audit-checkpoints/verifier-key (compliance): the verifier key of the tenant's log in
 * the C2SP signed-note format (`<origin>+<key id>+<base64 key>`), which the console uses to check
 * checkpoint signatures in the browser and transparency-log tooling is configured with. Served
 * by the vault, it protects against edits of the database; against a vault that is itself
 * compromised, compare it with a copy kept apart (the console accepts a pinned key).
 */
export interface VerifierKeyDeps {
  readonly auditLogs: Pick<AuditLogRegistry, 'find'>;
  readonly config: { readonly audit: Pick<Config['audit'], 'anchorKey'> };
}

export function registerVerifierKeyRoute(router: SecureRouter, deps: VerifierKeyDeps): void {
  let publicKey: Promise<KeyObject> | undefined;
  const load = (): Promise<KeyObject> => {
    publicKey ??= ensureAnchorKey(deps.config.audit.anchorKey.file, false).then((k) => k.publicKey);
    // A failed read is not remembered: the next request tries again.
    publicKey.catch(() => { publicKey = undefined; });
    return publicKey;
  };
  router.route({
    method: 'get', path: '/v1/audit-checkpoints/verifier-key', permission: 'audit:export',
    handler: async (_req, res, ctx) => {
      const log = await deps.auditLogs.find(ctx.principal.tenant);
      if (!log) throw new NotFoundError('This tenant has no audit log yet');
      const key = await load();
      res.setHeader('Cache-Control', 'no-store');
      res.json({ log: log.origin, verifierKey: formatVerifierKey(noteVerifier(log.origin, key)), keyId: keyIdOf(key) });
    },
  });
}
