import { createHash } from 'node:crypto';

/**
 * The construct ID of a route's resources, derived from its host alone, so adding or removing a
 * route never renames (and so never replaces) another route's resources.
 *
 * `mcp.example.com` → `McpExampleCom` plus the first 8 hex digits of the host's SHA-256. The
 * readable part helps people find a route in the console; the hash keeps hosts that differ only
 * in punctuation (`a-b.example.com`, `ab.example.com`) apart.
 */
export function routeConstructId(host: string): string {
  const normalised = host.toLowerCase();
  const readable = normalised
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('')
    // Keep logical IDs well under CloudFormation's 255 characters even for long hosts.
    .slice(0, 64);
  const hash = createHash('sha256').update(normalised).digest('hex').slice(0, 8);
  return `Route${readable}${hash}`;
}

/** The construct ID of an imported hosted zone, derived from its ID. */
export function zoneConstructId(zoneId: string): string {
  return `Zone${zoneId.replace(/[^A-Za-z0-9]/g, '')}`;
}
