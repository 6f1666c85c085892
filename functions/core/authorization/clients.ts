import { validateClientMetadata } from '../cimd/document-rules.ts';
import { validateClientIdUrl } from '../cimd/url-rules.ts';
import type { GatewayConfig } from '../config/schema.ts';
import type { McpClientStore } from '../store/mcp-clients.ts';
import { isRegisteredClientId } from '../store/mcp-clients.ts';
import type { ClientDocuments } from './client-documents.ts';
import { decideTrust, type TrustPolicySettings } from './trust-policy.ts';

/**
 * The three kinds of MCP client the gateway's authorization server knows (DESIGN "Clients"):
 * a Client ID Metadata Document URL (under the trust policy), a dynamically registered client
 * (RFC 7591), or an `mcpClients` entry of the config.
 */
export interface McpClient {
  readonly kind: 'cimd' | 'registered' | 'configured';
  readonly clientId: string;
  /** For people: the document's or registration's `client_name`, or the configured name. */
  readonly name: string;
  /** The host that vouches for the client: the CIMD URL's host; absent (unverified) for registered clients. */
  readonly verifiedHost?: string;
  readonly redirectUris: readonly string[];
  /** The client may use refresh tokens (its `grant_types` include `refresh_token`). */
  readonly refreshTokens: boolean;
  /** A trusted CIMD client under `autoApproveTrusted`: no consent page. */
  readonly autoApprove: boolean;
  /**
   * The operator vouches for the client's redirect URIs (a configured client, or a CIMD client
   * from a trusted domain): authorization errors may be redirected there before anyone consented.
   * Others (registered, unlisted) get error pages instead (RFC 9700 §4.11.1: no automatic
   * redirect to an untrusted URI).
   */
  readonly trustedRedirects: boolean;
}

export type ClientRefusal =
  | 'client_id_missing'
  | 'client_unknown'
  | 'client_id_invalid'
  | 'client_blocked'
  | 'client_unlisted'
  | 'client_document_unavailable'
  | 'client_document_invalid'
  | 'client_auth_unsupported';

export type ClientResult =
  | { readonly ok: true; readonly client: McpClient }
  | { readonly ok: false; readonly code: ClientRefusal; readonly message: string; readonly rule?: string };

export interface ClientResolverDeps {
  readonly trustPolicy?: TrustPolicySettings;
  readonly mcpClients?: GatewayConfig['mcpClients'];
  readonly documents: ClientDocuments;
  readonly registered: McpClientStore;
}

const refuse = (code: ClientRefusal, message: string, rule?: string): ClientResult => ({
  ok: false,
  code,
  message,
  ...(rule ? { rule } : {}),
});

/** Finds the client a `client_id` names, for one route. Nothing is fetched for a refused host. */
export function createClientResolver(deps: ClientResolverDeps) {
  const configured = new Map((deps.mcpClients ?? []).map((c) => [c.clientId, c]));
  const pinned = deps.trustPolicy?.pinnedClients ?? {};

  return async (clientId: string | null | undefined, route: string): Promise<ClientResult> => {
    if (!clientId) return refuse('client_id_missing', 'The request names no client_id.');
    if (clientId.length > 2048) return refuse('client_id_invalid', 'The client_id is too long.');

    if (/^https?:/i.test(clientId)) {
      // The URL rules need no network: the host is known before the trust policy is asked.
      const url = validateClientIdUrl(clientId);
      if (!url.ok) {
        return refuse(
          'client_id_invalid',
          `The client_id is not a valid metadata document URL (${url.errors[0]!.rule}).`,
          url.errors[0]!.rule,
        );
      }
      const hostname = new URL(clientId).hostname;
      // A name, not an address, and without a trailing dot: the trust policy decides on names.
      if (hostname.endsWith('.') || /^[\d.]+$|^\[/.test(hostname)) {
        return refuse(
          'client_id_invalid',
          'A client_id must name its host by a DNS name (no IP address, no trailing dot).',
        );
      }
      const trust = decideTrust(deps.trustPolicy, hostname);
      if (trust.trust === 'refused') {
        return trust.reason === 'blocked'
          ? refuse('client_blocked', `Clients from ${hostname} are blocked on this gateway.`)
          : refuse(
              'client_unlisted',
              `Clients from ${hostname} are not on this gateway's list of trusted clients.`,
            );
      }
      let document: Record<string, unknown>;
      const pin = pinned[clientId];
      if (pin) {
        const checked = validateClientMetadata(pin, clientId);
        if (!checked.ok)
          return refuse(
            'client_document_invalid',
            'The pinned client document is not valid.',
            checked.errors[0]!.rule,
          );
        document = checked.document;
      } else {
        const fetched = await deps.documents.get(clientId);
        if (!fetched.ok) {
          const first = fetched.errors[0];
          return fetched.stage === 'document'
            ? refuse(
                'client_document_invalid',
                `The client's metadata document is not valid (${first?.rule}).`,
                first?.rule,
              )
            : refuse(
                'client_document_unavailable',
                `The client's metadata document could not be fetched (${first?.rule}).`,
                first?.rule,
              );
        }
        document = fetched.document;
      }
      return fromDocument(document, {
        kind: 'cimd',
        clientId,
        verifiedHost: new URL(clientId).host,
        // Never for a client_id with a query: a trusted host may serve other documents there.
        autoApprove: trust.trust === 'trusted' && trust.autoApprove && !new URL(clientId).search,
        trustedRedirects: trust.trust === 'trusted',
      });
    }

    const entry = configured.get(clientId);
    if (entry) {
      return {
        ok: true,
        client: {
          kind: 'configured',
          clientId,
          name: entry.name,
          redirectUris: entry.redirectUris,
          refreshTokens: true,
          autoApprove: false,
          trustedRedirects: true,
        },
      };
    }

    if (isRegisteredClientId(clientId)) {
      if (deps.trustPolicy?.allowDynamicRegistration === false) {
        return refuse('client_unknown', 'Dynamically registered clients are turned off on this gateway.');
      }
      const registered = await deps.registered.get(clientId, route);
      if (registered) {
        return {
          ok: true,
          client: {
            kind: 'registered',
            clientId,
            name: registered.clientName ?? 'Unnamed client',
            redirectUris: registered.redirectUris,
            refreshTokens: registered.grantTypes.includes('refresh_token'),
            autoApprove: false,
            trustedRedirects: false,
          },
        };
      }
    }
    return refuse('client_unknown', 'This gateway does not know the client.');
  };
}

export type ClientResolver = ReturnType<typeof createClientResolver>;

function fromDocument(
  doc: Record<string, unknown>,
  base: {
    kind: 'cimd';
    clientId: string;
    verifiedHost: string;
    autoApprove: boolean;
    trustedRedirects: boolean;
  },
): ClientResult {
  const method = doc.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') {
    return refuse(
      'client_auth_unsupported',
      `The client authenticates with "${String(method).slice(0, 40)}"; this gateway accepts public clients ("none") only.`,
    );
  }
  const grantTypes = Array.isArray(doc.grant_types) ? (doc.grant_types as string[]) : ['authorization_code'];
  if (!grantTypes.includes('authorization_code')) {
    return refuse(
      'client_document_invalid',
      'The client does not use the authorization code grant.',
      'doc.grant_types',
    );
  }
  const responseTypes = Array.isArray(doc.response_types) ? (doc.response_types as string[]) : ['code'];
  if (!responseTypes.includes('code')) {
    return refuse(
      'client_document_invalid',
      'The client does not use response type "code".',
      'doc.response_types',
    );
  }
  return {
    ok: true,
    client: {
      ...base,
      name: String(doc.client_name),
      redirectUris: doc.redirect_uris as string[],
      refreshTokens: grantTypes.includes('refresh_token'),
    },
  };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** True for an `http` URI on a loopback host (a native app's redirect, RFC 8252 §7.3). */
export function isLoopbackRedirect(uri: string): boolean {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  } catch {
    return false;
  }
}

/**
 * The registered redirect URI a request's `redirect_uri` matches: exactly, or — for a loopback
 * `http` URI — with any port (RFC 8252 §7.3), everything else (scheme, host, path, query) exact.
 */
export function matchRedirectUri(client: McpClient, requested: string): string | undefined {
  if (client.redirectUris.includes(requested)) return requested;
  if (!isLoopbackRedirect(requested)) return undefined;
  const asked = new URL(requested);
  for (const registered of client.redirectUris) {
    if (!isLoopbackRedirect(registered)) continue;
    const url = new URL(registered);
    url.port = asked.port;
    if (url.href === asked.href && requested === asked.href) return requested;
  }
  return undefined;
}
