import * as oauth from 'oauth4webapi';
import { fail, type OutboundFetch, type Result } from './types.ts';
import { bearerChallengeParams } from './www-authenticate.ts';

/** What the gateway needs to know to send a person to the upstream's authorization server. */
export interface UpstreamAuthorization {
  /** The RFC 8707 `resource` to ask for: the protected resource's identifier. */
  readonly resource: string;
  /** Scopes from the upstream's 401 challenge, else the PRM's `scopes_supported`. */
  readonly scopes: readonly string[];
  /** Validated RFC 8414 / OIDC metadata; `issuer` equals the identifier it was looked up by. */
  readonly as: oauth.AuthorizationServer;
}

export type DiscoveryCode =
  | 'upstream_unreachable'
  | 'resource_metadata_not_found'
  | 'resource_metadata_invalid'
  | 'resource_mismatch'
  | 'authorization_server_not_found'
  | 'authorization_server_invalid'
  | 'issuer_mismatch';

export interface DiscoveryOptions {
  readonly fetch: OutboundFetch;
  /** The route opted into http upstreams (local development only). */
  readonly allowInsecure?: boolean;
  /** Configured issuer; skips the PRM's `authorization_servers` choice. */
  readonly authorizationServer?: string;
}

const MCP_PROBE_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'mcp-edge-discovery', version: '1' },
  },
});

/** Path-prefix on segment boundaries: `/mcp` covers `/mcp` and `/mcp/x`, not `/mcpx`. */
function coversPath(resourcePath: string, upstreamPath: string): boolean {
  const prefix = resourcePath.replace(/\/+$/, '');
  return prefix === '' || upstreamPath === prefix || upstreamPath.startsWith(`${prefix}/`);
}

/**
 * RFC 9728 §3.3 / DESIGN.md: the PRM `resource` must be the upstream's origin with a path that
 * is a prefix of the upstream's path; anything else could make us send tokens meant for one
 * resource to another.
 */
export function resourceCoversUpstream(resource: string, upstream: string): boolean {
  let r: URL;
  try {
    r = new URL(resource);
  } catch {
    return false;
  }
  const u = new URL(upstream);
  return r.origin === u.origin && !r.search && !r.hash && coversPath(r.pathname, u.pathname);
}

async function getJson(fetch: OutboundFetch, url: string): Promise<{ status: number; body?: unknown }> {
  const res = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual' });
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status };
  }
  try {
    return { status: 200, body: await res.json() };
  } catch {
    return { status: 200, body: undefined };
  }
}

/** The well-known PRM locations for an upstream URL, path-specific first (RFC 9728 §3.1). */
export function resourceMetadataCandidates(upstream: string): string[] {
  const u = new URL(upstream);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
  const root = `${u.origin}/.well-known/oauth-protected-resource`;
  return path ? [`${root}${path}`, root] : [root];
}

interface ProtectedResource {
  resource: string;
  authorizationServers: string[];
  scopesSupported: string[];
}

async function findProtectedResource(
  upstream: string,
  options: DiscoveryOptions,
): Promise<Result<ProtectedResource & { challengeScopes: string[] }, DiscoveryCode>> {
  let challenge: Record<string, string> | undefined;
  try {
    const probe = await options.fetch(upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: MCP_PROBE_BODY,
      redirect: 'manual',
    });
    await probe.body?.cancel();
    if (probe.status === 401) challenge = bearerChallengeParams(probe.headers.get('www-authenticate'));
  } catch {
    return fail('upstream_unreachable', `The upstream ${upstream} could not be reached.`);
  }

  const candidates = challenge?.resource_metadata
    ? [challenge.resource_metadata]
    : resourceMetadataCandidates(upstream);
  for (const url of candidates) {
    let found: { status: number; body?: unknown };
    try {
      found = await getJson(options.fetch, url);
    } catch {
      continue;
    }
    if (found.status !== 200) continue;
    const prm = found.body as Record<string, unknown> | undefined;
    if (!prm || typeof prm !== 'object' || Array.isArray(prm) || typeof prm.resource !== 'string') {
      return fail(
        'resource_metadata_invalid',
        `The protected resource metadata at ${url} has no "resource".`,
      );
    }
    if (!resourceCoversUpstream(prm.resource, upstream)) {
      return fail(
        'resource_mismatch',
        `The protected resource metadata at ${url} is for ${JSON.stringify(prm.resource)}, which does not cover ${upstream}.`,
      );
    }
    const servers = Array.isArray(prm.authorization_servers)
      ? prm.authorization_servers.filter((s): s is string => typeof s === 'string')
      : [];
    const scopes = Array.isArray(prm.scopes_supported)
      ? prm.scopes_supported.filter((s): s is string => typeof s === 'string')
      : [];
    return {
      ok: true,
      resource: prm.resource,
      authorizationServers: servers,
      scopesSupported: scopes,
      challengeScopes: challenge?.scope ? challenge.scope.split(' ').filter(Boolean) : [],
    };
  }
  return fail('resource_metadata_not_found', `No protected resource metadata was found for ${upstream}.`);
}

/**
 * RFC 8414 metadata, then OpenID Connect discovery; oauth4webapi checks that the document's
 * `issuer` is exactly the identifier we asked about (no mix-up by a lying metadata document).
 */
export async function discoverAuthorizationServer(
  issuer: string,
  options: Pick<DiscoveryOptions, 'fetch' | 'allowInsecure'>,
): Promise<Result<{ as: oauth.AuthorizationServer }, DiscoveryCode>> {
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    return fail('authorization_server_invalid', `${JSON.stringify(issuer)} is not an issuer URL.`);
  }
  if (issuerUrl.protocol !== 'https:' && !(options.allowInsecure && issuerUrl.protocol === 'http:')) {
    return fail('authorization_server_invalid', `The authorization server ${issuer} is not https.`);
  }
  for (const algorithm of ['oauth2', 'oidc'] as const) {
    let response: Response;
    try {
      response = await oauth.discoveryRequest(issuerUrl, {
        algorithm,
        [oauth.customFetch]: options.fetch as never,
        [oauth.allowInsecureRequests]: options.allowInsecure === true,
      });
    } catch {
      continue;
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      continue;
    }
    try {
      const as = await oauth.processDiscoveryResponse(issuerUrl, response);
      return { ok: true, as };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
        return fail('issuer_mismatch', `The metadata of ${issuer} names a different issuer.`);
      }
      return fail('authorization_server_invalid', `The metadata of ${issuer} is not valid.`);
    }
  }
  return fail('authorization_server_not_found', `No authorization server metadata was found for ${issuer}.`);
}

/** Upstream discovery as DESIGN.md "Upstream OAuth" lays it out. */
export async function discoverUpstream(
  upstream: string,
  options: DiscoveryOptions,
): Promise<Result<UpstreamAuthorization, DiscoveryCode>> {
  const prm = await findProtectedResource(upstream, options);
  let resource = upstream;
  let scopes: string[] = [];
  let issuer = options.authorizationServer;
  if (prm.ok) {
    resource = prm.resource;
    scopes = prm.challengeScopes.length ? prm.challengeScopes : prm.scopesSupported;
    issuer ??= prm.authorizationServers[0];
  } else if (!issuer || prm.code !== 'resource_metadata_not_found') {
    return prm;
  }
  if (!issuer) {
    return fail(
      'authorization_server_not_found',
      `The protected resource metadata of ${upstream} lists no authorization server.`,
    );
  }
  const as = await discoverAuthorizationServer(issuer, options);
  if (!as.ok) return as;
  return { ok: true, resource, scopes, as: as.as };
}
