import * as oauth from 'oauth4webapi';
import { type ConnectDeps, startConnect } from '../connect/connect.ts';
import { CONNECT_PATH, type ConnectLinks } from '../connect/connect-links.ts';
import { HttpError, jsonResponse, refusalJson } from '../http/errors.ts';
import { userDigest } from '../proxy/connect-required.ts';
import type { Route, RouteTable } from '../routes.ts';
import type { GrantStore } from '../store/grants.ts';
import type { SessionStore } from '../store/sessions.ts';
import { resolveClientAuth } from '../vault/client-auth.ts';
import type { Vault } from '../vault/vault.ts';
import { html, page, redirect, refusalPage } from './html.ts';
import { LOGIN_PATH, signOutForms } from './login-app.ts';
import {
  allowOnly,
  browserBinding,
  CONNECTIONS_PATH,
  csrfToken,
  currentSession,
  isSameSitePost,
  parseReturnTo,
  readForm,
  routeOf,
  wantsJson,
} from './request-context.ts';

export const DISCONNECT_PATH = '/.pomerium/disconnect';

/** What the connections page reads and disconnect removes; tokens never leave `delete`. */
export type VaultForConnections = Pick<Vault, 'list' | 'delete'>;

export interface ConnectAppDeps extends ConnectDeps {
  readonly routes: RouteTable;
  readonly sessions: SessionStore;
  readonly connections: VaultForConnections;
  /** The MCP clients people authorized on the routes (listed, and revoked, here). */
  readonly grants: Pick<GrantStore, 'listConsents' | 'revokeClient'>;
  /** Tells the gateway's own connect links (the proxy's, the authorize step's) from any other. */
  readonly links: ConnectLinks;
}

/** The connect function: start an upstream connection, list connections, disconnect. */
export function createConnectApp(deps: ConnectAppDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const route = routeOf(deps.routes, url);
    switch (url.pathname) {
      case CONNECT_PATH:
        allowOnly(request, 'GET');
        return connect(deps, request, url, route);
      case CONNECTIONS_PATH:
        allowOnly(request, 'GET');
        return connections(deps, request, route);
      case DISCONNECT_PATH:
        allowOnly(request, 'POST');
        return disconnect(deps, request, route);
      default:
        throw new HttpError('not_found');
    }
  };
}

function loginRedirect(route: Route, returnTo: string): Response {
  return redirect(`${route.origin}${LOGIN_PATH}?return_to=${encodeURIComponent(returnTo)}`);
}

async function connect(deps: ConnectAppDeps, request: Request, url: URL, route: Route): Promise<Response> {
  const returnTo = parseReturnTo(url.searchParams.get('return_to'), route);
  if (!returnTo.ok) return refusalPage('invalid_return_to');
  const current = await currentSession(request, route, deps.sessions);
  if (!current) return loginRedirect(route, `${url.pathname}${url.search}`);
  // A connect link from the proxy (an MCP client's URL elicitation) names the token's person:
  // someone else signed in here must not connect their account for that person's client.
  const forUser = url.searchParams.get('for');
  if (forUser !== null && forUser !== userDigest(current.session.userId)) return refusalPage('other_user');
  // The scopes an upstream's `403 insufficient_scope` named (the proxy's connect link carries them).
  const scope = url.searchParams.get('scope');
  if (
    scope !== null &&
    (scope.length > 512 || !/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(scope))
  ) {
    return refusalPage('scope_invalid');
  }
  // A navigation another site or app started (a link, a form, a redirect chain through another
  // site) must not start a connect by itself: that would send the person to the upstream's
  // authorization server, which may answer at once, and write a state record. Unless the link is
  // one the gateway signed (the proxy's URL elicitations, the authorize step's chained connect),
  // the person confirms on this page, whose Continue link is then a same-origin navigation. The
  // gateway's own pages (`same-origin`) go on directly, and so does a browser that sends no
  // Sec-Fetch-Site (older than 2023).
  const site = request.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin' && !deps.links.verify(route, url, (deps.now ?? Date.now)())) {
    return confirmConnectPage(route, url, scope);
  }
  const binding = browserBinding(request, route);
  const started = await startConnect(deps, {
    route,
    userId: current.session.userId,
    binding: binding.value,
    returnTo: returnTo.path,
    ...(scope ? { extraScopes: scope.split(' ') } : {}),
  });
  if (!started.ok) {
    if (started.code === 'no_client_available') {
      return refusalPage(started.code, {
        body: html`<p>An operator of this gateway must register a client at that authorization server with the redirect URI
<code>${route.callbackUrl}</code>, then set <code>upstream.clientId</code> (and <code>upstream.clientSecret</code>
for a confidential client) on the route <code>${route.origin}</code> in the gateway config, and deploy.</p>`,
      });
    }
    return refusalPage(started.code, { detail: started.detail });
  }
  return redirect(started.location, {}, [binding.setCookie]);
}

/**
 * The page an unsigned connect link opened from elsewhere shows first: what would happen, and one
 * same-origin link to go on. Neutral wording: the person's own older or hand-made link lands here too.
 */
function confirmConnectPage(route: Route, url: URL, scope: string | null): Response {
  const upstream = new URL(route.config.to).host;
  return page(
    200,
    `Connect ${route.config.name ?? route.hostname} to your account?`,
    html`<p>This connects the gateway route <strong>${route.origin}</strong> to your account at
<strong>${upstream}</strong>: you sign in there if asked, and apps you allow on this route then use
it as you${scope ? html`, with the extra access <code>${scope}</code>` : html``}.</p>
<p>Continue only if you started this, for example because an MCP app asked you to connect.</p>
<p><a class="button" href="${url.pathname}${url.search}">Continue to ${upstream}</a>
<a href="${CONNECTIONS_PATH}">Cancel</a></p>`,
  );
}

async function connections(deps: ConnectAppDeps, request: Request, route: Route): Promise<Response> {
  const current = await currentSession(request, route, deps.sessions);
  if (!current) {
    if (wantsJson(request)) {
      return refusalJson('login_required');
    }
    return loginRedirect(route, CONNECTIONS_PATH);
  }
  const items = new Map((await deps.connections.list(current.session.userId)).map((c) => [c.route, c]));
  const rows = deps.routes.routes.map((r) => {
    const item = items.get(r.origin);
    return {
      route: r.origin,
      name: r.clientName,
      connected: Boolean(item),
      issuer: item?.issuer ?? null,
      scopes: item?.scope ? item.scope.split(' ').filter(Boolean) : [],
      expiresAt: item?.expiresAt ? new Date(item.expiresAt).toISOString() : null,
    };
  });
  const clients = (await deps.grants.listConsents(current.session.userId))
    .filter((c) => c.route === route.origin)
    .sort((a, b) => b.updatedAt - a.updatedAt);
  if (wantsJson(request)) {
    return jsonResponse(200, {
      user: current.session.email ?? current.session.userId,
      connections: rows,
      clients: clients.map((c) => ({
        clientId: c.clientId,
        name: c.clientName,
        kind: c.clientKind,
        scope: c.scope,
        authorizedAt: new Date(c.updatedAt).toISOString(),
      })),
    });
  }
  const csrf = csrfToken(current.id);
  const clientRows = clients.map(
    (c) => html`<tr><td><strong>${c.clientName}</strong><br><code>${c.clientId}</code>${
      c.clientKind === 'registered' ? html` <span class="no">unverified</span>` : ''
    }</td><td>${c.scope}</td><td>${new Date(c.updatedAt).toISOString()}</td>
<td><form method="post" action="${DISCONNECT_PATH}"><input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="client_id" value="${c.clientId}">
<button class="secondary" type="submit">Revoke</button></form></td></tr>`,
  );
  const table = rows.map(
    (row) => html`<tr><td><strong>${row.name}</strong><br><code>${row.route}</code></td>
<td>${row.connected ? html`<span class="ok">connected</span>` : html`<span class="no">not connected</span>`}</td>
<td>${row.scopes.join(' ') || '—'}</td><td>${row.expiresAt ?? '—'}</td>
<td>${
      row.route !== route.origin
        ? // Another route is another origin with its own session cookie: manage it there.
          html`<a href="${row.route}${CONNECTIONS_PATH}">Manage</a>`
        : row.connected
          ? html`<form method="post" action="${DISCONNECT_PATH}"><input type="hidden" name="csrf" value="${csrf}">
<button class="secondary" type="submit">Disconnect</button></form>`
          : html`<a class="button" href="${CONNECT_PATH}">Connect</a>`
    }</td></tr>`,
  );
  return page(
    200,
    'Connections',
    html`<p>Signed in as <strong>${current.session.email ?? current.session.name ?? current.session.userId}</strong>.
Tokens are held by the gateway, encrypted, one set per route; they are never shown.</p>
<table><thead><tr><th>Route</th><th>Status</th><th>Scopes</th><th>Access token expiry</th><th></th></tr></thead>
<tbody>${table}</tbody></table>
<h2>Apps you authorized on this route</h2>
${
  clientRows.length
    ? html`<table><thead><tr><th>MCP client</th><th>Scope</th><th>Authorized</th><th></th></tr></thead>
<tbody>${clientRows}</tbody></table>`
    : html`<p>No MCP client holds access to this route.</p>`
}
<h2>Sign out</h2>
${signOutForms(csrf)}`,
  );
}

async function disconnect(deps: ConnectAppDeps, request: Request, route: Route): Promise<Response> {
  const current = await currentSession(request, route, deps.sessions);
  if (!current) return refusalPage('login_required');
  const form = await readForm(request);
  if (!form || !isSameSitePost(request, route, form, current.id)) {
    return refusalPage('csrf');
  }
  // Revoking an MCP client: its consent and every grant (so all its refresh tokens) end.
  const clientId = form.get('client_id');
  if (clientId !== null) {
    await deps.grants.revokeClient(current.session.userId, route.origin, clientId);
    return redirect(CONNECTIONS_PATH);
  }
  const removed = await deps.connections.delete({ route: route.origin, user: current.session.userId });
  if (removed?.revocationEndpoint) await revoke(deps, route, removed);
  return redirect(CONNECTIONS_PATH);
}

/** RFC 7009: best effort; the local copy is gone either way. */
async function revoke(
  deps: ConnectAppDeps,
  route: Route,
  removed: NonNullable<Awaited<ReturnType<VaultForConnections['delete']>>>,
): Promise<void> {
  const token = removed.refreshToken ?? removed.accessToken;
  if (!token || !removed.revocationEndpoint) return;
  try {
    const as: oauth.AuthorizationServer = {
      issuer: removed.issuer,
      revocation_endpoint: removed.revocationEndpoint,
    };
    const response = await oauth.revocationRequest(
      as,
      { client_id: removed.clientId },
      await resolveClientAuth(deps.secrets, { ...removed, route: route.origin }),
      token,
      {
        [oauth.customFetch]: deps.fetchFor(route) as never,
        [oauth.allowInsecureRequests]: removed.allowInsecureRequests === true,
        additionalParameters: { token_type_hint: removed.refreshToken ? 'refresh_token' : 'access_token' },
      },
    );
    await oauth.processRevocationResponse(response);
  } catch {
    // Revocation is advisory (RFC 7009 §2.2); the connection is removed regardless.
  }
}
