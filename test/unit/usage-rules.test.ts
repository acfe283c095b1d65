import { describe, expect, it } from 'vitest';
import { ClientAddress, normalizeAddress, quotaAddress } from '../../src/usage/client-address.js';
import { rateLimitSubject } from '../../src/usage/rate-limiter.js';
import { creditsFor, entryThatFreesASlot, estimateCredits, remaining, settleCharge } from '../../src/usage/usage-rules.js';

describe('credit arithmetic', () => {
  const sonnet = { id: 'claude-sonnet-5', inputPrice: 3, outputPrice: 15 };

  it('prices per 1000 tokens and rounds a started credit up', () => {
    expect(creditsFor(sonnet, 1000, 1000)).toBe(18);
    expect(creditsFor(sonnet, 1, 0)).toBe(1);
    expect(creditsFor(sonnet, 0, 0)).toBe(0);
    expect(creditsFor({ id: 'x', inputPrice: 0.1, outputPrice: 0 }, 3000, 0)).toBe(1); // 0.30000000000000004 is not 2
    expect(creditsFor({ id: 'free', inputPrice: 0, outputPrice: 0 }, 10_000, 10_000)).toBe(0);
  });

  it('estimates with the whole max_tokens as output', () => {
    expect(estimateCredits(sonnet, 2000, 4096)).toBe(Math.ceil((2000 * 3 + 4096 * 15) / 1000));
  });

  it('charges up to the hold plus the free balance, never more', () => {
    expect(settleCharge(120, 300, 0)).toEqual({ charged: 120, capped: false });
    expect(settleCharge(500, 300, 700)).toEqual({ charged: 500, capped: false });
    expect(settleCharge(10_000, 300, 200)).toEqual({ charged: 500, capped: true });
    expect(settleCharge(0, 300, 0)).toEqual({ charged: 0, capped: false });
  });
});

describe('rolling window arithmetic', () => {
  it('says how many are left and which entry frees the next slot', () => {
    expect(remaining({ used: 3, limit: 10 })).toBe(7);
    expect(remaining({ used: 12, limit: 10 })).toBe(0);
    expect(entryThatFreesASlot({ used: 10, limit: 10 })).toBe(0);
    // The limit was lowered to 10 after 12 were sent: three must leave before one fits.
    expect(entryThatFreesASlot({ used: 12, limit: 10 })).toBe(2);
    expect(entryThatFreesASlot({ used: 3, limit: 10 })).toBe(0);
  });
});

describe('ClientAddress', () => {
  const handshake = (address: string, forwarded?: string | string[]) => ({
    address,
    headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
  });

  it('reads Express req.ip (which honours trust proxy) and unwraps IPv4-mapped addresses', () => {
    expect(ClientAddress.fromRequest({ ip: '::ffff:203.0.113.5', socket: {} as never })).toBe('203.0.113.5');
    expect(ClientAddress.fromRequest({ ip: undefined, socket: { remoteAddress: '2001:DB8::1' } as never })).toBe('2001:db8::1');
  });

  it('takes the first X-Forwarded-For hop of a handshake only when trusting the proxy', () => {
    const h = handshake('::ffff:10.0.0.2', '203.0.113.7, 10.0.0.1');
    expect(ClientAddress.fromHandshake(h, false)).toBe('10.0.0.2');
    expect(ClientAddress.fromHandshake(h, true)).toBe('203.0.113.7');
    expect(ClientAddress.fromHandshake(handshake('10.0.0.2', ['198.51.100.1', '1.1.1.1']), true)).toBe('198.51.100.1');
    // A header that is not an address is ignored.
    expect(ClientAddress.fromHandshake(handshake('10.0.0.2', 'evil'), true)).toBe('10.0.0.2');
  });

  it('normalises and refuses non-addresses', () => {
    expect(normalizeAddress('[2001:db8::1]')).toBe('2001:db8::1');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeAddress('not an ip')).toBeUndefined();
    expect(normalizeAddress(undefined)).toBeUndefined();
  });

  it('counts IPv4 addresses as themselves and IPv6 by /64', () => {
    expect(quotaAddress('203.0.113.5')).toBe('203.0.113.5');
    expect(quotaAddress('2001:db8:aa:bb::1')).toBe('2001:db8:aa:bb::/64');
    expect(quotaAddress('2001:0db8:00aa:00bb:ffff:1:2:3')).toBe('2001:db8:aa:bb::/64');
    expect(quotaAddress('::1')).toBe('0:0:0:0::/64');
    expect(quotaAddress('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64');
    expect(quotaAddress(undefined)).toBeNull();
  });
});

describe('rate limit subjects', () => {
  it('counts users by id and anonymous callers by address', () => {
    expect(rateLimitSubject({ kind: 'user', userId: 'u1' }, '1.2.3.4')).toBe('u:u1');
    expect(rateLimitSubject({ kind: 'anonymous', anonId: 'a1' }, '1.2.3.4')).toBe('ip:1.2.3.4');
    expect(rateLimitSubject({ kind: 'anonymous', anonId: 'a1' }, '2001:db8:1:2::99')).toBe('ip:2001:db8:1:2::/64');
    expect(rateLimitSubject({ kind: 'anonymous', anonId: 'a1' }, undefined)).toBe('a:a1');
    expect(rateLimitSubject(undefined, undefined)).toBe('ip:unknown');
  });
});
