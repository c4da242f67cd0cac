import { mintDevToken, ensureDevSigningKey } from '../auth/dev-issuer.js';
import type { Role } from '../auth/permissions.js';
import { loadConfig } from '../config/config.js';
import { rolesOf } from './commands.js';
import { optionText, type Invocation } from './parse.js';

/** `callvault token`: development tokens for first runs and tests, never for production. */
export async function runToken(inv: Invocation): Promise<number> {
  const tenant = optionText(inv, 'tenant') ?? '';
  const sub = optionText(inv, 'sub') ?? '';
  const roles = rolesOf(inv.values.role) as Role[];
  const ttl = Number(optionText(inv, 'ttl') ?? 3600);
  const config = loadConfig();
  if (!config.jwt.devSigningKey) {
    process.stderr.write('no development issuer: tokens come from your identity provider (set JWT_DEV_SIGNING_KEY_FILE to use one)\n');
    return 2;
  }
  await ensureDevSigningKey(config.jwt.devSigningKey);
  const token = await mintDevToken(config.jwt.devSigningKey.file, {
    tenant, roles, sub, ttlSeconds: ttl, issuer: config.jwt.issuer, audience: config.jwt.audience,
  });
  process.stdout.write(`${token}\n`);
  return 0;
}
