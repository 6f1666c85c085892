import { describe, expect, it } from 'vitest';
import { decideTrust, domainMatches } from '../../../functions/core/authorization/trust-policy.ts';

describe('domainMatches', () => {
  it('matches a bare domain with itself only', () => {
    expect(domainMatches('example.com', 'example.com')).toBe(true);
    for (const host of [
      'a.example.com',
      'badexample.com',
      'example.com.evil.org',
      'example.co',
      'xample.com',
    ]) {
      expect(domainMatches('example.com', host), host).toBe(false);
    }
  });

  it('matches a wildcard with every subdomain depth but not the domain itself', () => {
    expect(domainMatches('*.example.com', 'a.example.com')).toBe(true);
    expect(domainMatches('*.example.com', 'a.b.example.com')).toBe(true);
    for (const host of [
      'example.com',
      'badexample.com',
      'example.com.evil.org',
      '.example.com',
      'a.example.co',
    ]) {
      expect(domainMatches('*.example.com', host), host).toBe(false);
    }
  });

  it('compares host names case-insensitively and ignores one trailing dot', () => {
    expect(domainMatches('example.com', 'EXAMPLE.Com')).toBe(true);
    expect(domainMatches('example.com', 'example.com.')).toBe(true);
    expect(domainMatches('*.example.com', 'A.Example.COM.')).toBe(true);
    expect(domainMatches('*.example.com', 'example.com.')).toBe(false);
  });
});

describe('decideTrust', () => {
  it('refuses a blocked host even when it is also trusted (blocked wins)', () => {
    const policy = { trustedDomains: ['*.example.com'], blockedDomains: ['bad.example.com'] };
    expect(decideTrust(policy, 'bad.example.com')).toEqual({ trust: 'refused', reason: 'blocked' });
    expect(decideTrust({ trustedDomains: ['x.com'], blockedDomains: ['x.com'] }, 'x.com')).toEqual({
      trust: 'refused',
      reason: 'blocked',
    });
    expect(decideTrust(policy, 'good.example.com')).toEqual({ trust: 'trusted', autoApprove: false });
  });

  it('refuses a blocked host in any case and with a trailing dot', () => {
    const policy = { blockedDomains: ['evil.org'] };
    expect(decideTrust(policy, 'EVIL.org.')).toEqual({ trust: 'refused', reason: 'blocked' });
  });

  it('leaves an unlisted host to the consent page by default', () => {
    expect(decideTrust(undefined, 'client.example')).toEqual({ trust: 'unlisted' });
    expect(decideTrust({ trustedDomains: ['example.com'] }, 'client.example')).toEqual({ trust: 'unlisted' });
    expect(decideTrust({ allowUnlisted: true }, 'client.example')).toEqual({ trust: 'unlisted' });
  });

  it("refuses an unlisted host as 'unlisted' when allowUnlisted is false, but still admits trusted ones", () => {
    const policy = { trustedDomains: ['vscode.dev'], allowUnlisted: false };
    expect(decideTrust(policy, 'client.example')).toEqual({ trust: 'refused', reason: 'unlisted' });
    expect(decideTrust(policy, 'vscode.dev')).toEqual({ trust: 'trusted', autoApprove: false });
  });

  it('auto-approves only trusted hosts, and only under autoApproveTrusted', () => {
    const policy = { trustedDomains: ['claude.ai'], autoApproveTrusted: true };
    expect(decideTrust(policy, 'claude.ai')).toEqual({ trust: 'trusted', autoApprove: true });
    expect(decideTrust(policy, 'other.example')).toEqual({ trust: 'unlisted' });
    expect(decideTrust({ trustedDomains: ['claude.ai'] }, 'claude.ai')).toEqual({
      trust: 'trusted',
      autoApprove: false,
    });
    expect(decideTrust({ autoApproveTrusted: true }, 'claude.ai')).toEqual({ trust: 'unlisted' });
  });
});
