import { open, seal } from '../crypto/aes-gcm.ts';
import { deriveKey } from '../crypto/derive-key.ts';

/**
 * Values the proxy hands to MCP clients and must get back unchanged and only from the same person
 * on the same route: the upstream's `Mcp-Session-Id` (2025 era) and a 2026-07-28 `requestState`.
 * AES-256-GCM under the proxy's sealing key, with (kind, route, user) as additional data, so a
 * session id sealed for person A on route A does not open for person B or on route B (it is an
 * unknown session there), and nothing in it can be read or changed by the client.
 */
export interface Sealer {
  seal(kind: SealedKind, bound: SealBinding, value: unknown): string;
  open<T>(kind: SealedKind, bound: SealBinding, sealed: string): T | undefined;
}

export type SealedKind = 'session' | 'request-state';

export interface SealBinding {
  readonly route: string;
  readonly user: string;
}

/** At most this many characters are opened (a session id is a header value). */
const MAX_SEALED = 4096;

function aad(kind: SealedKind, bound: SealBinding): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(['mcp-edge/sealed/v1', kind, bound.route, bound.user]));
}

/** A sealer over a 256-bit key (derived per kind, so a session id never opens as a request state). */
export function createSealer(key: Uint8Array): Sealer {
  if (key.byteLength !== 32) throw new TypeError('the sealing key must be 32 bytes');
  const keys = new Map<SealedKind, Uint8Array>(
    (['session', 'request-state'] as const).map((kind) => [kind, deriveKey(key, `sealing/${kind}`)]),
  );
  return {
    seal(kind, bound, value) {
      const box = seal(keys.get(kind)!, new TextEncoder().encode(JSON.stringify(value)), aad(kind, bound));
      return Buffer.concat([box.iv, box.ciphertext]).toString('base64url');
    },
    open<T>(kind: SealedKind, bound: SealBinding, sealed: string): T | undefined {
      if (sealed.length > MAX_SEALED || !/^[A-Za-z0-9_-]{40,}$/.test(sealed)) return undefined;
      const bytes = Buffer.from(sealed, 'base64url');
      try {
        const plain = open(
          keys.get(kind)!,
          { iv: bytes.subarray(0, 12), ciphertext: bytes.subarray(12) },
          aad(kind, bound),
        );
        return JSON.parse(new TextDecoder().decode(plain)) as T;
      } catch {
        return undefined;
      }
    },
  };
}
