import type { Request } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

// Where a request comes from, the same way for HTTP and Socket.IO.
//
// HTTP: Express computes req.ip from `app.set('trust proxy', config.trustProxy)` (src/app.ts):
// the socket's peer, or with trust proxy the left-most X-Forwarded-For entry.
// Socket.IO: the handshake's peer address, or with trustProxy the first X-Forwarded-For hop.
// Trust X-Forwarded-For only behind a proxy that overwrites it: otherwise a client can send any.
export const ClientAddress = {
  fromRequest(req: Pick<Request, 'ip' | 'socket'>): string | undefined {
    return normalizeAddress(req.ip ?? req.socket?.remoteAddress);
  },

  fromHandshake(handshake: { address: string; headers: IncomingHttpHeaders }, trustProxy: boolean): string | undefined {
    if (trustProxy) {
      const forwarded = firstForwardedHop(handshake.headers['x-forwarded-for']);
      if (forwarded) return forwarded;
    }
    return normalizeAddress(handshake.address);
  },
};

function firstForwardedHop(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  return normalizeAddress(value.split(',')[0]?.trim());
}

// "::ffff:1.2.3.4" is an IPv4 client seen through a dual-stack socket: count it as 1.2.3.4.
export function normalizeAddress(address: string | undefined): string | undefined {
  if (!address) return undefined;
  let value = address.trim();
  if (value.startsWith('[') && value.includes(']')) value = value.slice(1, value.indexOf(']'));
  const zone = value.indexOf('%');
  if (zone > 0) value = value.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(value);
  if (mapped) value = mapped[1];
  return isIP(value) ? value.toLowerCase() : undefined;
}

// The key an address is counted under for quotas. One IPv6 host usually owns a whole /64, so
// counting single IPv6 addresses would let a visitor rotate through them; an IPv4 address is
// counted as itself.
export function quotaAddress(address: string | undefined): string | null {
  const value = normalizeAddress(address);
  if (!value) return null;
  if (isIP(value) === 4) return value;
  const groups = expandIpv6(value);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] {
  // An embedded IPv4 tail (e.g. 64:ff9b::1.2.3.4) becomes two groups.
  let text = address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => Number.parseInt(g, 16).toString(16));
}
