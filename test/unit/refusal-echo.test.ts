import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { eventToRequest } from '../../functions/adapters/apigateway.ts';
import { validateAuthorizationRequest } from '../../functions/core/authorization/authorize-request.ts';
import { createClientDocuments } from '../../functions/core/authorization/client-documents.ts';
import { createClientResolver } from '../../functions/core/authorization/clients.ts';
import { registrationEndpoint } from '../../functions/core/authorization/registration-endpoint.ts';
import { revocationEndpoint } from '../../functions/core/authorization/revocation-endpoint.ts';
import { type TokenEndpointDeps, tokenEndpoint } from '../../functions/core/authorization/token-endpoint.ts';
import { createCimdResponder } from '../../functions/core/cimd/serve.ts';
import { errorToResponse } from '../../functions/core/http/errors.ts';
import { knownOAuthError } from '../../functions/core/oauth/failure.ts';
import { authenticate } from '../../functions/core/proxy/inbound-auth.ts';
import { parseClientMessage } from '../../functions/core/proxy/jsonrpc.ts';
import { checkMethodHeaders } from '../../functions/core/proxy/method-headers.ts';
import { REFUSAL_HEADER } from '../../functions/core/refusals.ts';
import { RouteTable } from '../../functions/core/routes.ts';
import type { McpClientStore } from '../../functions/core/store/mcp-clients.ts';
import { refusalPage } from '../../functions/core/web/html.ts';

/**
 * No refusal repeats what the request carried: each is driven through the real code with a marker
 * in every place a request can put text (host, parameters, parameter names, headers, bodies,
 * client ids, redirect URIs), and neither the body nor any header of the answer contains it.
 */
const MARKER = 'zqx7marker';
const HOSTILE = `<img src=x onerror=${MARKER}>`;

const table = new RouteTable([{ from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' }]);
const route = table.routes[0]!;

/** No registered client exists; registration is never reached by these refusals. */
const noRegistrations: McpClientStore = {
  register: () => Promise.reject(new Error('not reached')),
  get: async () => undefined,
};
const resolveClient = createClientResolver({
  trustPolicy: { blockedDomains: [`${MARKER}.example`] },
  mcpClients: [{ clientId: 'acme', name: 'Acme', redirectUris: ['http://127.0.0.1/cb'] }],
  documents: createClientDocuments(),
  registered: noRegistrations,
});
/** The token endpoint's stores and signer are not reached before these refusals. */
const tokenDeps = {
  resolveClient,
  codes: {},
  grants: {},
  signer: {},
  accessTokenTtlSeconds: 600,
  now: Date.now,
} as unknown as TokenEndpointDeps;

const form = (body: string, headers: Record<string, string> = {}) =>
  new Request(`${route.origin}/.pomerium/mcp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
const json = (body: string, type = 'application/json') =>
  new Request(`${route.origin}/.pomerium/mcp/register`, {
    method: 'POST',
    headers: { 'content-type': type },
    body,
  });

async function authorizePage(params: Record<string, string>): Promise<Response> {
  const outcome = await validateAuthorizationRequest(new URLSearchParams(params), route, resolveClient);
  if (outcome.ok) throw new Error('expected a refusal');
  if (!outcome.page) throw new Error('expected a page');
  return refusalPage(outcome.code, outcome.detail === undefined ? {} : { detail: outcome.detail });
}

const verifyNothing = async () => ({ ok: false as const, code: 'invalid_token' as const, reason: 'test' });
const challenge = { code_challenge: 'a'.repeat(43), code_challenge_method: 'S256', response_type: 'code' };

const cases: [string, () => Promise<Response> | Response][] = [
  [
    'an unknown host at the CIMD endpoint',
    () =>
      createCimdResponder(table)(
        new Request(`https://${MARKER}.example/.well-known/mcp-client-metadata.json`),
      ),
  ],
  [
    'a host the adapter refuses',
    () => {
      try {
        eventToRequest({
          httpMethod: 'GET',
          path: '/',
          headers: { Host: `${MARKER} x` },
          requestContext: {},
        } as unknown as APIGatewayProxyEvent);
      } catch (error) {
        return errorToResponse(error);
      }
      throw new Error('expected a refusal');
    },
  ],
  [
    'a repeated parameter named by the request',
    () => tokenEndpoint(tokenDeps, form(`${MARKER}=1&${MARKER}=2`), route),
  ],
  [
    'an unknown client_id',
    () => tokenEndpoint(tokenDeps, form(`grant_type=authorization_code&client_id=${MARKER}`), route),
  ],
  [
    'an unknown grant_type',
    () => tokenEndpoint(tokenDeps, form(`grant_type=${MARKER}&client_id=acme`), route),
  ],
  [
    'a foreign resource',
    () => tokenEndpoint(tokenDeps, form(`client_id=acme&resource=https://${MARKER}.example/`), route),
  ],
  [
    'Basic credentials with a secret',
    () =>
      tokenEndpoint(
        tokenDeps,
        form('grant_type=authorization_code', {
          authorization: `Basic ${Buffer.from(`${MARKER}:${MARKER}`).toString('base64')}`,
        }),
        route,
      ),
  ],
  [
    'a revocation without a token',
    () =>
      revocationEndpoint({ grants: {} as never, verify: verifyNothing }, form(`client_id=${MARKER}`), route),
  ],
  [
    'a registration with a redirect URI it refuses',
    () =>
      registrationEndpoint(
        { clients: noRegistrations, enabled: true },
        json(JSON.stringify({ client_name: HOSTILE, redirect_uris: [`http://${MARKER}.example/cb`] })),
        route,
      ),
  ],
  [
    'a registration with a bad field',
    () =>
      registrationEndpoint(
        { clients: noRegistrations, enabled: true },
        json(
          JSON.stringify({ redirect_uris: ['https://a.example/cb'], client_uri: `http://${MARKER}.example` }),
        ),
        route,
      ),
  ],
  [
    'a registration that is not JSON',
    () => registrationEndpoint({ clients: noRegistrations, enabled: true }, json(HOSTILE), route),
  ],
  [
    'a registration of another type',
    () =>
      registrationEndpoint({ clients: noRegistrations, enabled: true }, json('{}', `text/${MARKER}`), route),
  ],
  [
    'a client from a blocked host',
    () => authorizePage({ ...challenge, client_id: `https://${MARKER}.example/client.json` }),
  ],
  [
    'a client_id that is not a URL rule-abiding',
    () => authorizePage({ ...challenge, client_id: `https://u:${MARKER}@a.example/x` }),
  ],
  [
    'a redirect URI the client did not register',
    () => authorizePage({ ...challenge, client_id: 'acme', redirect_uri: `https://${MARKER}.example/cb` }),
  ],
  ['an unknown client', () => authorizePage({ ...challenge, client_id: HOSTILE })],
  [
    'an upstream error code the RFCs do not define',
    () => refusalPage('authorization_denied', { detail: knownOAuthError(HOSTILE)! }),
  ],
  [
    'a body that is not JSON at the MCP endpoint',
    () => {
      const parsed = parseClientMessage(new TextEncoder().encode(HOSTILE));
      if (parsed.ok) throw new Error('expected a refusal');
      return parsed.response;
    },
  ],
  [
    'an Mcp-Method header that disagrees',
    () => {
      const parsed = parseClientMessage(
        new TextEncoder().encode(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })),
      );
      if (!parsed.ok) throw new Error('expected a message');
      return checkMethodHeaders(new Headers({ 'mcp-method': MARKER }), parsed.message)!;
    },
  ],
  [
    'a bearer token the gateway did not issue',
    async () => {
      const auth = await authenticate(
        verifyNothing,
        new Request(`${route.origin}/mcp`, { headers: { authorization: `Bearer ${MARKER}` } }),
        route,
      );
      if (auth.ok) throw new Error('expected a refusal');
      return auth.response;
    },
  ],
];

describe('refusals never repeat the request', () => {
  it.each(cases)('%s', async (_, run) => {
    const res = await run();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.headers.get(REFUSAL_HEADER)).toMatch(/^[a-z_]+$/);
    const text = (await res.text()).toLowerCase();
    expect(text).not.toContain(MARKER);
    expect(text).not.toContain('<img');
    res.headers.forEach((value, name) => {
      expect(value.toLowerCase(), name).not.toContain(MARKER);
    });
  });
});
