import { type AuthorizationRequest, REQUEST_PARAMETERS } from '../authorization/authorize-request.ts';
import { isLoopbackRedirect } from '../authorization/clients.ts';
import type { Route } from '../routes.ts';
import type { Session } from '../store/sessions.ts';
import { html, page } from './html.ts';

export const AUTHORIZE_PATH = '/.pomerium/mcp/authorize';

/**
 * The page a person sees before an MCP client gets a token for a route: who asks (the client's
 * name, and the host that vouches for it or "unverified"), where the answer goes (the redirect
 * host, with a warning for an app on this computer), which route and what access, and Allow /
 * Deny in one POST form whose CSRF token is bound to this browser's session and this request.
 */
export function consentPage(input: {
  route: Route;
  session: Session;
  request: AuthorizationRequest;
  params: URLSearchParams;
  csrf: string;
}): Response {
  const { route, request, session } = input;
  const { client } = request;
  const redirect = new URL(request.redirectUri);
  const loopback = isLoopbackRedirect(request.redirectUri);
  const allLoopback = client.redirectUris.every(isLoopbackRedirect);
  const routeName = route.config.name ?? route.host;
  const hidden = REQUEST_PARAMETERS.map((name) => {
    const value = input.params.get(name);
    return value === null ? '' : html`<input type="hidden" name="${name}" value="${value}">`;
  });
  const who = client.verifiedHost
    ? html`<span class="ok">${client.verifiedHost}</span> (its identity is the document at <code>${client.clientId}</code>)`
    : client.kind === 'configured'
      ? html`<span class="ok">registered by this gateway’s operator</span>`
      : html`<span class="no">unverified</span> — the client registered itself; its name is not checked by anyone`;
  const body = html`<p>Signed in as <strong>${session.email ?? session.name ?? session.userId}</strong>.</p>
<p><strong>${client.name}</strong> asks to use <strong>${routeName}</strong> as you.</p>
<table>
<tr><th>Client</th><td>${client.name}<br>${who}</td></tr>
<tr><th>Sends you back to</th><td><code>${redirect.host}</code>${
    loopback
      ? html`<p class="err">This is an app on this computer (a loopback address)${allLoopback ? '' : ', not a website'}. Allow only if you just started connecting an app on this computer yourself.</p>`
      : ''
  }</td></tr>
<tr><th>Route</th><td>${routeName}<br><code>${route.resource}</code></td></tr>
<tr><th>Access</th><td><code>${request.scope}</code>: call this route’s MCP server with your own connection to it, until you revoke it on the <a href="/.pomerium/connections">connections page</a></td></tr>
</table>
<form method="post" action="${AUTHORIZE_PATH}">
${hidden}<input type="hidden" name="csrf" value="${input.csrf}">
<p><button type="submit" name="decision" value="allow">Allow</button>
<button class="secondary" type="submit" name="decision" value="deny">Deny</button></p>
</form>`;
  // The form posts here, then the answer redirects to the client: CSP form-action must allow
  // that redirect's origin too, or browsers block it.
  return page(200, `Allow ${client.name}?`, body, { 'content-security-policy': consentCsp(redirect.origin) });
}

function consentCsp(redirectOrigin: string): string {
  return [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src 'self' data:",
    `form-action 'self' ${redirectOrigin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}
