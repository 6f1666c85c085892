import { REFUSAL_HEADER } from '../refusals.ts';
import type { Route } from '../routes.ts';
import { SCOPES_SUPPORTED } from './scopes.ts';

export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server';
export const MCP_AUTHORIZE_PATH = '/.pomerium/mcp/authorize';
export const MCP_TOKEN_PATH = '/.pomerium/mcp/token';
export const MCP_REGISTER_PATH = '/.pomerium/mcp/register';
export const MCP_REVOKE_PATH = '/.pomerium/mcp/revoke';

/** RFC 9728 §2: the route as a protected resource, pointing at itself as the authorization server. */
export function protectedResourceMetadata(route: Route) {
  return {
    resource: route.resource,
    authorization_servers: [route.issuer],
    scopes_supported: [...SCOPES_SUPPORTED],
    bearer_methods_supported: ['header'],
    resource_name: route.config.name ?? route.host,
  };
}

/** RFC 8414 §2: the route as an authorization server (issuer = the route origin). */
export function authorizationServerMetadata(route: Route, options: { dynamicRegistration: boolean }) {
  return {
    issuer: route.issuer,
    authorization_endpoint: `${route.origin}${MCP_AUTHORIZE_PATH}`,
    token_endpoint: `${route.origin}${MCP_TOKEN_PATH}`,
    ...(options.dynamicRegistration ? { registration_endpoint: `${route.origin}${MCP_REGISTER_PATH}` } : {}),
    revocation_endpoint: `${route.origin}${MCP_REVOKE_PATH}`,
    scopes_supported: [...SCOPES_SUPPORTED],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
  };
}

/** CORS for endpoints browser-based clients (the MCP Inspector) call: any origin, never credentials. */
export const PUBLIC_CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': `www-authenticate, ${REFUSAL_HEADER}`,
} as const;

/** The answer to a CORS preflight on a public endpoint. */
export function preflight(methods: string): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...PUBLIC_CORS,
      'access-control-allow-methods': methods,
      'access-control-allow-headers': 'authorization, content-type, mcp-protocol-version',
      'access-control-max-age': '600',
      'cache-control': 'no-store',
    },
  });
}

/** A metadata document: public, briefly cacheable (it changes only with a deployment). */
export function metadataResponse(body: unknown, method: string): Response {
  const text = JSON.stringify(body);
  return new Response(method === 'HEAD' ? null : text, {
    status: 200,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=300',
      'x-content-type-options': 'nosniff',
      ...PUBLIC_CORS,
    },
  });
}
