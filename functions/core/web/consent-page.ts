import { type AuthorizationRequest, REQUEST_PARAMETERS } from '../authorization/authorize-request.ts';
import { isLoopbackRedirect } from '../authorization/clients.ts';
import type { Route } from '../routes.ts';
import type { Session } from '../store/sessions.ts';
import { html, page, type Raw } from './html.ts';

export const AUTHORIZE_PATH = '/.pomerium/mcp/authorize';

// Inline styles (the shared sheet in html.ts has no classes for these): a calm attention box in
// GitHub's "attention" colours, muted secondary text, and a label column that wraps on phones.
const LABEL = 'width:30%;vertical-align:top';
const MUTED = 'color:#57606a;font-size:.9rem';
const NOTE = 'margin:.5rem 0 0;padding:.5rem .75rem;border-left:4px solid #bf8700;background:#fff8c5';

/**
 * The page a person sees before an MCP client gets a token for a route: who asks (the client's
 * name, and the host that vouches for it or "unverified"), where the answer goes (the redirect
 * host, with a warning for an app on this computer), which route and what access, and Allow /
 * Deny in one POST form whose CSRF token is bound to this browser's session and this request.
 * Identifiers people need not read (the client_id URL, the full redirect URI) sit in a closed
 * "Technical details" section.
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
  const person = session.email ?? session.name ?? session.userId;
  const hidden = REQUEST_PARAMETERS.map((name) => {
    const value = input.params.get(name);
    return value === null ? '' : html`<input type="hidden" name="${name}" value="${value}">`;
  });
  const who = client.verifiedHost
    ? html`Identified by <strong>${client.verifiedHost}</strong>, which publishes its name and details.`
    : client.kind === 'configured'
      ? html`Set up by this gateway’s administrator.`
      : html`Its name is <strong class="no">unverified</strong>: the app registered itself, and nobody has checked that it is what it says.`;
  const destination = loopback
    ? html`<strong>${redirect.host}</strong>, an app on this computer${allLoopback ? '' : ', not a website'}.
<p style="${NOTE}">Allow only if you started connecting an app on this computer just now.</p>`
    : html`<strong>${redirect.host}</strong>`;
  const body = html`<p>You are signed in as <strong>${person}</strong>. If you allow,
<strong>${client.name}</strong> can use the MCP server of <strong>${routeName}</strong> as you.</p>
<table>
${row('App', html`<strong>${client.name}</strong><br>${who}`)}
${row('Your answer goes to', destination)}
${row('Route', html`${routeName}<br><span style="${MUTED}">${route.resource}</span>`)}
${row(
  'Access',
  html`Use the MCP server of ${routeName} as you, through your own connection to it (scope <code>${request.scope}</code>). It lasts until you revoke it on the <a href="/.pomerium/connections">connections page</a>.`,
)}
</table>
<form method="post" action="${AUTHORIZE_PATH}">
${hidden}<input type="hidden" name="csrf" value="${input.csrf}">
<p><button type="submit" name="decision" value="allow">Allow</button>
<button class="secondary" type="submit" name="decision" value="deny">Deny</button></p>
</form>
<p style="${MUTED}">If ${routeName} is not connected to your account yet, you connect it first, then go back to the app.</p>
<details style="${MUTED};overflow-wrap:anywhere"><summary>Technical details</summary>
<p>client_id: <code>${client.clientId}</code><br>redirect_uri: <code>${request.redirectUri}</code><br>resource: <code>${request.resource}</code></p>
</details>`;
  return page(200, `Allow ${client.name} to use ${routeName}?`, body, {
    'content-security-policy': consentCsp(redirect.origin),
  });
}

function row(label: string, content: Raw): Raw {
  return html`<tr><th scope="row" style="${LABEL}">${label}</th><td>${content}</td></tr>`;
}

/**
 * The page's CSP. Browsers check `form-action` on every redirect that follows the form's POST
 * (CSP3 §6.3.1), so the list holds exactly where an answer to this form may go: this gateway and
 * the client's redirect URI (https, or http on a loopback address). When Allow must first run the
 * upstream connect (other origins), the answer is a page that continues there with a new
 * navigation (see `continuePage` in authorization-app.ts), which this list does not govern.
 */
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
