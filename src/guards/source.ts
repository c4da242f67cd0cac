import { isIPv6 } from 'node:net';

/**
 * The key a per-source guard counts under. IPv4 addresses count one by one; IPv6 addresses count
 * by their /64 prefix, because a single subscriber usually holds a whole /64 and could otherwise
 * step around a limit by changing the low bits of its address.
 */
export function sourceKey(ip: string): string {
  const bare = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!isIPv6(bare)) return bare;
  const groups = expandIPv6(bare);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : bare;
}

/** Eight 16-bit groups, lower-case hex without leading zeros; null when not an IPv6 literal. */
export function expandIPv6(address: string): string[] | null {
  const zoneless = address.split('%')[0] ?? address;
  let text = zoneless;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return groups.map((g) => parseInt(g, 16).toString(16));
}
