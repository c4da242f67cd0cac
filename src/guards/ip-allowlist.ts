import { BlockList, isIP } from 'node:net';
import type { Request } from 'express';
import type { Gate } from '../auth/gates.js';
import { ConfigError } from '../config/schema.js';
import { ForbiddenError } from '../errors.js';
import type { RequestContext } from '../http/secure-router.js';

/** CIDR blocks, IPv4 and IPv6, matched with node's BlockList. */
export class IpAllowlist {
  private readonly list = new BlockList();

  private constructor(readonly cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [network = '', prefixText = ''] = cidr.split('/');
      const family = isIP(network);
      const prefix = Number(prefixText);
      const max = family === 4 ? 32 : 128;
      if (family === 0 || !/^\d{1,3}$/.test(prefixText) || prefix > max) {
        throw new ConfigError('PBX_ALLOWED_CIDRS', `"${cidr}" is not an IPv4 or IPv6 CIDR block`);
      }
      this.list.addSubnet(network, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  static of(cidrs: readonly string[]): IpAllowlist {
    return new IpAllowlist(cidrs);
  }

  get empty(): boolean {
    return this.cidrs.length === 0;
  }

  allows(ip: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    const address = mapped?.[1] ?? ip;
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * Refuses a pbx principal calling from outside the allowlist with 403 `ip_not_allowed` (the
 * secure router audits it as `auth.denied`). With an empty allowlist there is no gate: every
 * address may upload (mutual TLS or the network decide). `onDenied` counts the refusal and must
 * not throw. The address is the socket's peer unless TRUST_PROXY names the proxies whose
 * X-Forwarded-For may be believed.
 */
export function pbxIpGate(allowlist: IpAllowlist, onDenied: (req: Request, ctx: RequestContext) => void = () => undefined): Gate | undefined {
  if (allowlist.empty) return undefined;
  return (req, ctx) => {
    if (ctx.principal.actingRole !== 'pbx' || allowlist.allows(ctx.ip)) return;
    onDenied(req, ctx);
    throw new ForbiddenError('This address may not upload recordings', 'ip_not_allowed');
  };
}
