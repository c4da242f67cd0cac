import { parseArgs } from 'node:util';
import { mintDevToken, ensureDevSigningKey } from '../auth/dev-issuer.js';
import { isRole, type Role } from '../auth/permissions.js';
import { loadConfig } from '../config/config.js';

/** `callvault token`: development tokens for first runs and tests, never for production. */
export async function runToken(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true, allowPositionals: false,
    options: { tenant: { type: 'string' }, role: { type: 'string', multiple: true }, sub: { type: 'string' }, ttl: { type: 'string' } },
  });
  const roles = (values.role ?? []).flatMap((r) => r.split(','));
  if (!values.tenant || !values.sub || roles.length === 0 || !roles.every(isRole)) {
    process.stderr.write('usage: callvault token --tenant T --role pbx|agent|supervisor|compliance|admin --sub S [--ttl SECONDS]\n');
    return 2;
  }
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 7 * 86_400) {
    process.stderr.write('--ttl must be a whole number of seconds between 1 and 604800\n');
    return 2;
  }
  const config = loadConfig();
  if (!config.jwt.devSigningKey) {
    process.stderr.write('no development issuer: tokens come from your identity provider (set JWT_DEV_SIGNING_KEY_FILE to use one)\n');
    return 2;
  }
  await ensureDevSigningKey(config.jwt.devSigningKey);
  const token = await mintDevToken(config.jwt.devSigningKey.file, {
    tenant: values.tenant, roles: roles as Role[], sub: values.sub, ttlSeconds: ttl, issuer: config.jwt.issuer, audience: config.jwt.audience,
  });
  process.stdout.write(`${token}\n`);
  return 0;
}
