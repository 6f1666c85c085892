import { describe, expect, it } from 'vitest';
import { classifyAddress, classifyHost, isIpLiteral } from '../../../functions/core/http/address.ts';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['169.254.0.1', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['fd00::1', 'uniqueLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'ipv4Mapped(loopback)'],
    ['::ffff:10.1.2.3', 'ipv4Mapped(private)'],
    ['::ffff:169.254.169.254', 'ipv4Mapped(linkLocal)'],
    ['2002:7f00:1::', '6to4'],
    ['2002:5db8:d822::1', '6to4'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['64:ff9b::5db8:d822', 'rfc6052'],
    ['64:ff9b:1::a00:1', 'rfc6052'],
    ['::ffff:0:7f00:1', 'rfc6145'],
    ['2001:db8::1', 'reserved'],
    ['4000::1', 'notGlobalUnicast'],
    ['not-an-address', 'invalid'],
  ])('refuses %s as %s', (ip, range) => {
    expect(classifyAddress(ip)).toEqual({ public: false, range });
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '2606:2800:220:1::',
    '[2606:2800:220:1::]',
    '2a00:1450:4001:80b::200e',
    '::ffff:93.184.216.34',
  ])('accepts %s as public', (ip) => {
    expect(classifyAddress(ip)).toEqual({ public: true });
  });
});

describe('classifyHost', () => {
  it('leaves DNS names to the resolver', () => {
    expect(classifyHost('example.com')).toBeUndefined();
    expect(classifyHost('localhost')).toBeUndefined();
    expect(isIpLiteral('mcp.example.com')).toBe(false);
  });

  it.each([
    'https://2130706433/x',
    'https://0177.0.0.1/x',
    'https://0x7f.1/x',
    'https://0x7f000001/x',
    'https://127.1/x',
    'https://[::1]/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://[0:0:0:0:0:ffff:7f00:1]/x',
    'https://[fd00::1]/x',
    'https://100.64.0.1/x',
    'https://169.254.169.254/latest/meta-data',
    'https://0.0.0.0/x',
    'https://224.0.0.1/x',
    'https://255.255.255.255/x',
    'https://0/x',
  ])('refuses the literal host of %s after URL parsing', (url) => {
    const result = classifyHost(new URL(url).hostname);
    expect(result).toBeDefined();
    expect(result?.public).toBe(false);
  });

  it.each(['0177.0.0.1', '0x7f.1', '127.1', '2130706433'])(
    'refuses the legacy IPv4 form %s even when it was not normalised first',
    (host) => {
      expect(classifyHost(host)).toEqual({ public: false, range: 'loopback' });
    },
  );

  it('accepts public literals', () => {
    expect(classifyHost(new URL('https://93.184.216.34/x').hostname)).toEqual({ public: true });
    expect(classifyHost(new URL('https://[2606:2800:220:1::]/x').hostname)).toEqual({ public: true });
  });
});
