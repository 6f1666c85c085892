import type { AccessTokenVerifier } from '../authorization/access-token.ts';
import {
  type AuthorizationRequest,
  type AuthorizeOutcome,
  clientRedirect,
  REQUEST_PARAMETERS,
  requestDigest,
  validateAuthorizationRequest,
} from '../authorization/authorize-request.ts';
import type { ClientResolver } from '../authorization/clients.ts';
import {
  AUTHORIZATION_SERVER_METADATA_PATH,
  authorizationServerMetadata,
  MCP_AUTHORIZE_PATH,
  MCP_REGISTER_PATH,
  MCP_REVOKE_PATH,
  MCP_TOKEN_PATH,
  metadataResponse,
  preflight,
  protectedResourceMetadata,
} from '../authorization/metadata.ts';
import { registrationEndpoint } from '../authorization/registration-endpoint.ts';
import { revocationEndpoint } from '../authorization/revocation-endpoint.ts';
import type { TokenSigner } from '../authorization/signer.ts';
import { tokenEndpoint } from '../authorization/token-endpoint.ts';
import type { ConnectLinks } from '../connect/connect-links.ts';
import { sha256Base64url } from '../crypto/hash.ts';
import { readLimited } from '../http/body.ts';
import { HttpError } from '../http/errors.ts';
import { userDigest } from '../proxy/connect-required.ts';
import { REFUSAL_HEADER, REFUSALS, refusalMessage } from '../refusals.ts';
import { PROTECTED_RESOURCE_METADATA_PATH, type Route, type RouteTable } from '../routes.ts';
import type { CodeStore } from '../store/authorization-codes.ts';
import type { GrantStore } from '../store/grants.ts';
import type { McpClientStore } from '../store/mcp-clients.ts';
import type { Session, SessionStore } from '../store/sessions.ts';
import type { Vault } from '../vault/vault.ts';
import { consentPage } from './consent-page.ts';
import { html, page, redirect, refusalPage } from './html.ts';
import { LOGIN_PATH } from './login-app.ts';
import { allowOnly, currentSession, routeOf } from './request-context.ts';

export interface AuthorizationAppDeps {
  readonly routes: RouteTable;
  readonly sessions: SessionStore;
  readonly resolveClient: ClientResolver;
  readonly codes: CodeStore;
  readonly grants: GrantStore;
  readonly clients: McpClientStore;
  readonly signer: TokenSigner;
  readonly verify: AccessTokenVerifier;
  /** Whether the person has an upstream connection for the route (never reads a token). */
  readonly connections: Pick<Vault, 'list'>;
  /** Signs the chained connect's link (connect-links.ts). */
  readonly links: ConnectLinks;
  readonly dynamicRegistration: boolean;
  readonly accessTokenTtlSeconds: number;
  readonly now: () => number;
}

/** The longest authorization request query accepted (it travels through sign-in as `return_to`). */
const MAX_QUERY = 3072;

/**
 * The authorization function: each route as an OAuth authorization server toward MCP clients
 * (DESIGN "The gateway as an authorization server") — metadata, authorize with sign-in and
 * consent, token, registration and revocation.
 */
export function createAuthorizationApp(deps: AuthorizationAppDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const route = routeOf(deps.routes, url);
    const path = url.pathname;

    if (
      path === PROTECTED_RESOURCE_METADATA_PATH ||
      path === route.resourceMetadataUrl.slice(route.origin.length)
    ) {
      if (request.method === 'OPTIONS') return preflight('GET, HEAD, OPTIONS');
      allowMethods(request, ['GET', 'HEAD', 'OPTIONS']);
      return metadataResponse(protectedResourceMetadata(route), request.method);
    }
    if (path === AUTHORIZATION_SERVER_METADATA_PATH) {
      if (request.method === 'OPTIONS') return preflight('GET, HEAD, OPTIONS');
      allowMethods(request, ['GET', 'HEAD', 'OPTIONS']);
      return metadataResponse(
        authorizationServerMetadata(route, { dynamicRegistration: deps.dynamicRegistration }),
        request.method,
      );
    }
    if (path === MCP_AUTHORIZE_PATH) {
      if (request.method === 'GET') return authorizeGet(deps, request, url, route);
      allowOnly(request, 'POST');
      return authorizePost(deps, request, route);
    }
    const post = { [MCP_TOKEN_PATH]: 'token', [MCP_REGISTER_PATH]: 'register', [MCP_REVOKE_PATH]: 'revoke' }[
      path
    ];
    if (post) {
      if (request.method === 'OPTIONS') return preflight('POST, OPTIONS');
      allowMethods(request, ['POST', 'OPTIONS']);
      if (post === 'token')
        return tokenEndpoint({ ...deps, resolveClient: deps.resolveClient }, request, route);
      if (post === 'register') {
        return registrationEndpoint(
          { clients: deps.clients, enabled: deps.dynamicRegistration },
          request,
          route,
        );
      }
      return revocationEndpoint({ grants: deps.grants, verify: deps.verify }, request, route);
    }
    throw new HttpError('not_found');
  };
}

function allowMethods(request: Request, methods: string[]): void {
  if (!methods.includes(request.method)) {
    throw new HttpError('method_not_allowed', { headers: { allow: methods.join(', ') } });
  }
}

/** The validated request, or the answer to an invalid one (a page, or an error for the client). */
async function validate(
  deps: AuthorizationAppDeps,
  params: URLSearchParams,
  route: Route,
): Promise<{ ok: true; request: AuthorizationRequest } | { ok: false; response: Response }> {
  const outcome = await validateAuthorizationRequest(params, route, deps.resolveClient);
  if (outcome.ok) return outcome;
  if (outcome.page) return { ok: false, response: refusalPage(outcome.code, { detail: outcome.detail }) };
  return { ok: false, response: refusalRedirect(outcome.redirectUri, route, outcome.code, outcome.state) };
}

/** An authorization error sent to the client (RFC 6749 §4.1.2.1), its code in the redirect's header. */
function refusalRedirect(
  redirectUri: string,
  route: Route,
  code: 'consent_denied' | Extract<AuthorizeOutcome, { page: false }>['code'],
  state: string | undefined,
): Response {
  const location = clientRedirect(redirectUri, route, {
    error: REFUSALS[code].oauth,
    error_description: refusalMessage(code),
    state,
  });
  return redirect(location, { [REFUSAL_HEADER]: code });
}

/** The consent form's CSRF token: bound to the session cookie (this browser) and this exact request. */
function consentCsrf(sessionId: string, request: AuthorizationRequest): string {
  return sha256Base64url(`mcp-edge/consent-form/v1\n${sessionId}\n${requestDigest(request)}`);
}

/**
 * Proof, carried through the upstream connect, that this session allowed this exact request, so
 * the person is not asked twice in one trip. Only the holder of the session cookie can compute it.
 */
function consentProof(sessionId: string, request: AuthorizationRequest): string {
  return sha256Base64url(`mcp-edge/consent-given/v1\n${sessionId}\n${requestDigest(request)}`);
}

/** The authorize URL for these parameters (path and query), as it comes back after sign-in or connect. */
function authorizePath(params: URLSearchParams, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const name of REQUEST_PARAMETERS) {
    const value = params.get(name);
    if (value !== null) query.set(name, value);
  }
  for (const [key, value] of Object.entries(extra)) query.set(key, value);
  return `${MCP_AUTHORIZE_PATH}?${query}`;
}

async function authorizeGet(
  deps: AuthorizationAppDeps,
  request: Request,
  url: URL,
  route: Route,
): Promise<Response> {
  if (url.search.length > MAX_QUERY) return refusalPage('request_too_long');
  const checked = await validate(deps, url.searchParams, route);
  if (!checked.ok) return checked.response;
  const current = await currentSession(request, route, deps.sessions);
  if (!current) {
    return redirect(
      `${route.origin}${LOGIN_PATH}?return_to=${encodeURIComponent(authorizePath(url.searchParams))}`,
    );
  }
  const authz = checked.request;
  const consented =
    authz.client.autoApprove ||
    url.searchParams.get('consent') === consentProof(current.id, authz) ||
    (authz.client.kind !== 'registered' &&
      (await rememberedConsentCovers(deps, current.session, route, authz)));
  if (!consented) {
    return consentPage({
      route,
      session: current.session,
      request: authz,
      params: url.searchParams,
      csrf: consentCsrf(current.id, authz),
    });
  }
  return complete(deps, route, current, authz, url.searchParams);
}

async function authorizePost(deps: AuthorizationAppDeps, request: Request, route: Route): Promise<Response> {
  const current = await currentSession(request, route, deps.sessions);
  if (!current) return refusalPage('login_required');
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  const bytes = type.startsWith('application/x-www-form-urlencoded')
    ? await readLimited(request, 16_384)
    : undefined;
  if (!bytes) return refusalPage('consent_form_unreadable');
  const form = new URLSearchParams(new TextDecoder().decode(bytes));
  const checked = await validate(deps, form, route);
  if (!checked.ok) return checked.response;
  const authz = checked.request;
  const origin = request.headers.get('origin');
  const site = request.headers.get('sec-fetch-site');
  if (
    (origin !== null && origin !== route.origin) ||
    (site !== null && site !== 'same-origin') ||
    form.get('csrf') !== consentCsrf(current.id, authz)
  ) {
    return refusalPage('csrf');
  }
  const decision = form.get('decision');
  if (decision === 'deny') return refusalRedirect(authz.redirectUri, route, 'consent_denied', authz.state);
  if (decision !== 'allow') return refusalPage('consent_decision_missing');
  await deps.grants.rememberConsent(current.session.userId, {
    route: route.origin,
    clientId: authz.client.clientId,
    clientName: authz.client.name,
    clientKind: authz.client.kind,
    scope: authz.scope,
  });
  return complete(deps, route, current, authz, form, consentProof(current.id, authz));
}

/**
 * After Allow, when the upstream connect must run first: a page that moves on by itself (meta
 * refresh, with a link as fallback). A redirect would keep the browser in the consent form's
 * submission, whose CSP `form-action` allows only this gateway and the client's redirect URI; a
 * new navigation may go to the upstream's authorization server.
 */
function continuePage(route: Route, location: string): Response {
  const name = route.config.name ?? route.host;
  return page(
    200,
    `Connecting ${name}`,
    html`<p>Allowed. Next, connect <strong>${name}</strong> to your account at its MCP server; you come back here afterwards.</p>
<p><a class="button" href="${location}">Continue</a></p>`,
    {},
    html`<meta http-equiv="refresh" content="0;url=${location}">`,
  );
}

async function rememberedConsentCovers(
  deps: AuthorizationAppDeps,
  session: Session,
  route: Route,
  authz: AuthorizationRequest,
): Promise<boolean> {
  const consent = await deps.grants.getConsent(session.userId, route.origin, authz.client.clientId);
  if (!consent) return false;
  const granted = new Set(consent.scope.split(' '));
  return authz.scope.split(' ').every((s) => granted.has(s));
}

/**
 * After consent: without an upstream connection for the route, the person goes through the
 * upstream connect first and comes back here (one browser trip); then the code is issued and the
 * browser sent to the client with `code`, `state` and `iss` (RFC 9207).
 */
async function complete(
  deps: AuthorizationAppDeps,
  route: Route,
  current: { id: string; session: Session },
  authz: AuthorizationRequest,
  params: URLSearchParams,
  proof?: string,
): Promise<Response> {
  const connected = (await deps.connections.list(current.session.userId)).some(
    (c) => c.route === route.origin,
  );
  if (!connected) {
    const back = authorizePath(params, proof ? { consent: proof } : {});
    // Signed, and for this person only: another person signed in where the link is opened is refused.
    const location = deps.links.url(
      route,
      { return_to: back, for: userDigest(current.session.userId) },
      deps.now(),
    );
    // From the consent form (proof given), a redirect would stay under its form-action CSP.
    return proof ? continuePage(route, location) : redirect(location);
  }
  const code = await deps.codes.issue({
    route: route.origin,
    userId: current.session.userId,
    clientId: authz.client.clientId,
    redirectUri: authz.redirectUri,
    redirectUriSent: authz.redirectUriSent,
    codeChallenge: authz.codeChallenge,
    resource: authz.resource,
    scope: authz.scope,
  });
  return redirect(clientRedirect(authz.redirectUri, route, { code, state: authz.state }));
}
