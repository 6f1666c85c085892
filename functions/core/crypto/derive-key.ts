import { hkdfSync } from 'node:crypto';

/**
 * A 256-bit key for one purpose from a root secret (HKDF-SHA256, RFC 5869, empty salt, the
 * purpose `mcp-edge/{label}` as info). Distinct labels give independent keys, so one secret can
 * key the proxy's sealed values, the table records' tags and the sign-in cookie without any of
 * them opening another's.
 */
export function deriveKey(root: string | Uint8Array, label: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', root, new Uint8Array(0), `mcp-edge/${label}`, 32));
}
