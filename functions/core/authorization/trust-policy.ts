import type { GatewayConfig } from '../config/schema.ts';

/**
 * The trust policy for MCP clients identified by a Client ID Metadata Document URL (the seed's
 * `CIMDTrustPolicy`, DESIGN "CIMD rules"): decided on the client_id URL's host, before anything
 * is fetched.
 */
export type TrustPolicySettings = NonNullable<GatewayConfig['trustPolicy']>;

export type TrustDecision =
  /** Refused before any fetch: the host is blocked, or unlisted while `allowUnlisted` is false. */
  | { readonly trust: 'refused'; readonly reason: 'blocked' | 'unlisted' }
  /** A trusted domain: the consent page may be skipped when `autoApproveTrusted` is on. */
  | { readonly trust: 'trusted'; readonly autoApprove: boolean }
  /** Neither listed: the person decides on the consent page, which shows the host. */
  | { readonly trust: 'unlisted' };

/** `example.com` matches itself only; `*.example.com` matches its subdomains only. */
export function domainMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
  return name === pattern;
}

/** Decides on a client_id URL's host name (no port). Blocked wins over trusted. */
export function decideTrust(policy: TrustPolicySettings | undefined, hostname: string): TrustDecision {
  const matches = (list: readonly string[] | undefined) =>
    (list ?? []).some((p) => domainMatches(p, hostname));
  if (matches(policy?.blockedDomains)) return { trust: 'refused', reason: 'blocked' };
  if (matches(policy?.trustedDomains)) {
    return { trust: 'trusted', autoApprove: policy?.autoApproveTrusted === true };
  }
  if (policy?.allowUnlisted === false) return { trust: 'refused', reason: 'unlisted' };
  return { trust: 'unlisted' };
}
