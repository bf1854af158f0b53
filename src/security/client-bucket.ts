import { isIP } from 'node:net';

/** The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail becomes the last two). */
function ipv6Groups(address: string): number[] {
  const groups = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** IPv4 in IPv6: mapped (`::ffff:0:0/96`) and the NAT64 well-known prefix (`64:ff9b::/96`). */
const EMBEDS_IPV4 = ['0:0:0:0:0:ffff', '64:ff9b:0:0:0:0'];

/**
 * The unit a per-IP limit counts: an IPv4 address (also when mapped into IPv6, or behind NAT64),
 * or the /64 prefix of an IPv6 address — one subscriber usually holds a whole /64, so counting
 * single IPv6 addresses would let a client rotate through 2^64 of them.
 */
export function clientBucket(ip: string): string {
  const plain = ip.replace(/%.*$/, '');
  if (isIP(plain) !== 6) return plain;
  const groups = ipv6Groups(plain);
  const hex = groups.map((group) => group.toString(16));
  if (EMBEDS_IPV4.includes(hex.slice(0, 6).join(':'))) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  return `${hex.slice(0, 4).join(':')}::/64`;
}
