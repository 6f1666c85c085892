/**
 * The one refusal catalogue: every answer the gateway gives instead of what was asked — a page for
 * a person, JSON, an OAuth error (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 6750 §3) or a JSON-RPC error —
 * is named by a code here, with its HTTP status, a page title and a message for people. Messages are
 * fixed text: they never repeat what a request carried. Every refusal response carries its code in
 * the {@link REFUSAL_HEADER} header; JSON answers carry it in a field too (`error` for the gateway's
 * own JSON, `error.data.error` for JSON-RPC), while OAuth errors keep the RFC code in `error`
 * (`oauth` below) and name the gateway's code in the header only.
 *
 * README.md "Refusal codes" is generated from this table (test/unit/refusals.test.ts checks it).
 */

/** The response header naming the refusal; logs and metrics read it, browser clients may too (CORS). */
export const REFUSAL_HEADER = 'x-mcp-edge-refusal';

export interface Refusal {
  /** The HTTP status (4xx or 5xx) of the answer; `consent_denied` travels to the client as a redirect. */
  readonly status: number;
  /** The heading of the page a person sees. */
  readonly title: string;
  /** What happened and what to do, for people; fixed text, never an echo of input. */
  readonly message: string;
  /** The RFC error code for OAuth-shaped answers (`error`), when the refusal is one. */
  readonly oauth?: string;
  /** The JSON-RPC error code, for the MCP endpoint's refusals of a JSON-RPC request. */
  readonly jsonrpc?: number;
}

const SIGN_IN = 'Sign-in failed';
const CONNECT = 'Connection refused';
const UNAVAILABLE = 'Connection unavailable';
const AUTHORIZE = 'Authorization refused';
const TOKEN = 'Token request refused';
const REGISTER = 'Registration refused';
const MCP = 'MCP request refused';
const UPSTREAM = 'Upstream failure';
/** MCP's generic server error code for the gateway's own refusals (JSON-RPC "server error" range). */
const GATEWAY_RPC = -32001;

const CATALOGUE = {
  // Any endpoint
  not_found: { status: 404, title: 'Not found', message: 'Nothing is served at this path.' },
  unknown_route: { status: 404, title: 'Unknown route', message: 'No route is configured for this host.' },
  method_not_allowed: {
    status: 405,
    title: 'Method not allowed',
    message: 'This method is not allowed here; the Allow header lists the ones that are.',
  },
  invalid_host: { status: 400, title: 'Bad request', message: 'The request has no valid Host.' },
  invalid_path: { status: 400, title: 'Bad request', message: 'The request path is not valid.' },
  origin_unverified: {
    status: 403,
    title: 'Forbidden',
    message: 'Requests must come through the gateway’s CloudFront distribution.',
  },
  request_too_large: {
    status: 413,
    title: 'Request too large',
    message: 'The request body is too large.',
    oauth: 'invalid_request',
    jsonrpc: -32600,
  },
  request_too_long: { status: 414, title: 'Request too long', message: 'The request’s address is too long.' },
  // Answered before any function runs (lib/): API Gateway's throttling and the WAF's rate rules.
  throttled: {
    status: 429,
    title: 'Too many requests',
    message: 'The gateway is receiving too many requests. Try again in a moment.',
  },
  rate_limited: {
    status: 429,
    title: 'Too many requests',
    message: 'Too many requests from this address. Wait a few minutes, then try again.',
  },
  server_error: {
    status: 500,
    title: 'Something went wrong',
    message: 'The gateway could not complete the request.',
    oauth: 'server_error',
  },

  // Sign-in (login function) and the browser session
  idp_not_configured: {
    status: 503,
    title: 'Sign-in is not configured',
    message:
      'This gateway has no identity provider configured. An operator must set "idp" in the gateway config.',
  },
  invalid_return_to: {
    status: 400,
    title: 'Request refused',
    message: 'The return address must be a page of this gateway.',
  },
  idp_unavailable: {
    status: 502,
    title: 'Sign-in unavailable',
    message: 'The identity provider could not be reached. Try again in a moment.',
  },
  login_state_invalid: {
    status: 400,
    title: SIGN_IN,
    message: 'This sign-in link is not valid or was already used. Start again.',
  },
  login_other_browser: {
    status: 400,
    title: SIGN_IN,
    message:
      'This sign-in was started in another browser (or this browser blocks cookies). Start again here.',
  },
  login_expired: { status: 400, title: SIGN_IN, message: 'This sign-in took too long. Start again.' },
  login_denied: { status: 403, title: SIGN_IN, message: 'The identity provider did not sign you in.' },
  login_response_invalid: {
    status: 400,
    title: SIGN_IN,
    message: 'The identity provider’s answer could not be used. Start again.',
  },
  id_token_invalid: {
    status: 502,
    title: SIGN_IN,
    message: 'The identity provider’s ID token could not be verified.',
  },
  login_not_fresh: {
    status: 403,
    title: SIGN_IN,
    message:
      'Someone signed out in this browser, and the identity provider signed you in again without asking for your credentials. Sign out at the identity provider (or close the browser), then start again.',
  },
  return_to_too_long: {
    status: 414,
    title: 'Request refused',
    message: 'The address to return to after sign-in is too long for the sign-in cookie.',
  },
  login_required: {
    status: 401,
    title: 'Sign in first',
    message:
      'Your session has ended or this browser is not signed in. Sign in to this gateway, then try again.',
  },
  csrf: {
    status: 403,
    title: 'Request refused',
    message: 'This request did not come from this gateway’s page in this browser.',
  },

  // Connecting a route to the upstream (connect function)
  other_user: {
    status: 403,
    title: CONNECT,
    message:
      'This link was made for another person. Sign out and sign in as the person using the app, or ask them to open it.',
  },
  scope_invalid: { status: 400, title: CONNECT, message: 'The requested scope is not valid.' },
  upstream_unreachable: {
    status: 502,
    title: UNAVAILABLE,
    message: 'The upstream MCP server could not be reached to find its authorization server.',
  },
  resource_metadata_not_found: {
    status: 502,
    title: UNAVAILABLE,
    message:
      'The upstream publishes no protected resource metadata (RFC 9728) and no authorization server is configured.',
  },
  resource_metadata_invalid: {
    status: 502,
    title: UNAVAILABLE,
    message: 'The upstream’s protected resource metadata is not valid.',
  },
  resource_mismatch: {
    status: 502,
    title: UNAVAILABLE,
    message:
      'The upstream’s protected resource metadata is for a resource that does not cover the upstream URL.',
  },
  authorization_server_not_found: {
    status: 502,
    title: UNAVAILABLE,
    message: 'No authorization server metadata was found for the upstream.',
  },
  authorization_server_invalid: {
    status: 502,
    title: UNAVAILABLE,
    message: 'The upstream’s authorization server metadata is not valid or lacks its endpoints.',
  },
  issuer_mismatch: {
    status: 502,
    title: UNAVAILABLE,
    message: 'The upstream’s authorization server metadata names a different issuer than the one asked.',
  },
  no_client_available: {
    status: 503,
    title: 'The upstream needs a registered client',
    message:
      'The upstream’s authorization server supports neither Client ID Metadata Documents nor dynamic client registration.',
  },
  registration_failed: {
    status: 502,
    title: UNAVAILABLE,
    message: 'The gateway could not register itself with the upstream’s authorization server.',
  },

  // The upstream's answer at the OAuth callback (callback function)
  state_missing: {
    status: 400,
    title: CONNECT,
    message: 'The answer from the authorization server carries no state.',
  },
  state_malformed: {
    status: 400,
    title: CONNECT,
    message: 'The answer from the authorization server carries no valid state.',
  },
  state_unknown: {
    status: 400,
    title: CONNECT,
    message: 'This authorization answer is unknown or was already used.',
  },
  state_expired: { status: 400, title: CONNECT, message: 'This authorization took too long; start again.' },
  state_other_browser: {
    status: 400,
    title: CONNECT,
    message:
      'This connection was started in another browser (or this browser blocks cookies). Start again here.',
  },
  state_other_user: {
    status: 400,
    title: CONNECT,
    message: 'This authorization was started by another user.',
  },
  state_other_route: {
    status: 400,
    title: CONNECT,
    message: 'This authorization belongs to another route.',
  },
  authorization_issuer_mismatch: {
    status: 400,
    title: CONNECT,
    message: 'The answer came from a different authorization server than the one asked (RFC 9207).',
  },
  authorization_denied: {
    status: 403,
    title: 'Connection not allowed',
    message: 'The upstream authorization server did not allow the connection.',
  },
  authorization_response_invalid: {
    status: 400,
    title: CONNECT,
    message: 'The upstream authorization server’s answer was not valid.',
  },
  token_exchange_failed: {
    status: 502,
    title: 'Connection failed',
    message: 'The upstream authorization server did not issue tokens for this code.',
  },
  upstream_token_type_unsupported: {
    status: 502,
    title: 'Connection failed',
    message: 'The upstream issued a token that is not a Bearer token; only Bearer tokens are supported.',
  },

  // The gateway as an authorization server: authorize (pages, or errors sent to a trusted client)
  parameter_repeated: {
    status: 400,
    title: 'Request refused',
    message: 'A parameter appears more than once.',
    oauth: 'invalid_request',
  },
  parameter_too_long: {
    status: 400,
    title: AUTHORIZE,
    message: 'A parameter of the authorization request is too long.',
    oauth: 'invalid_request',
  },
  client_id_missing: {
    status: 400,
    title: AUTHORIZE,
    message: 'The request names no client_id.',
    oauth: 'invalid_request',
  },
  client_id_invalid: {
    status: 400,
    title: AUTHORIZE,
    message:
      'The client_id is not a valid client metadata document URL (https, a DNS name, a path; see the rule).',
  },
  client_unknown: { status: 400, title: AUTHORIZE, message: 'This gateway does not know the client.' },
  client_blocked: {
    status: 403,
    title: AUTHORIZE,
    message: 'Clients from this host are blocked on this gateway.',
  },
  client_unlisted: {
    status: 403,
    title: AUTHORIZE,
    message: 'Clients from this host are not on this gateway’s list of trusted clients.',
  },
  client_document_unavailable: {
    status: 400,
    title: AUTHORIZE,
    message: 'The client’s metadata document could not be fetched (see the rule).',
  },
  client_document_invalid: {
    status: 400,
    title: AUTHORIZE,
    message: 'The client’s metadata document is not valid (see the rule).',
  },
  client_auth_unsupported: {
    status: 400,
    title: AUTHORIZE,
    message:
      'The client authenticates with a secret or key; this gateway accepts public clients ("none") only.',
  },
  redirect_uri_unregistered: {
    status: 400,
    title: AUTHORIZE,
    message: 'The redirect_uri is not one the client registered.',
  },
  redirect_uri_missing: {
    status: 400,
    title: AUTHORIZE,
    message: 'The request names no redirect_uri and the client has several.',
  },
  response_type_unsupported: {
    status: 400,
    title: AUTHORIZE,
    message: 'Only response_type=code is supported.',
    oauth: 'unsupported_response_type',
  },
  pkce_required: {
    status: 400,
    title: AUTHORIZE,
    message: 'PKCE is required: send code_challenge with method S256.',
    oauth: 'invalid_request',
  },
  pkce_method_unsupported: {
    status: 400,
    title: AUTHORIZE,
    message: 'code_challenge_method must be S256 (plain is not accepted).',
    oauth: 'invalid_request',
  },
  pkce_challenge_invalid: {
    status: 400,
    title: AUTHORIZE,
    message: 'code_challenge is not an S256 challenge (43 base64url characters).',
    oauth: 'invalid_request',
  },
  resource_invalid: {
    status: 400,
    title: AUTHORIZE,
    message: "This authorization server issues tokens for this route's MCP endpoint only.",
    oauth: 'invalid_target',
  },
  consent_form_unreadable: {
    status: 400,
    title: AUTHORIZE,
    message: 'The consent form could not be read.',
    oauth: 'invalid_request',
  },
  consent_decision_missing: { status: 400, title: AUTHORIZE, message: 'Choose Allow or Deny.' },
  consent_denied: {
    status: 403,
    title: AUTHORIZE,
    message: 'The person denied the request.',
    oauth: 'access_denied',
  },

  // Token, revocation and registration endpoints (RFC 6749 §5.2 JSON)
  form_not_urlencoded: {
    status: 400,
    title: TOKEN,
    message: 'Send the parameters as application/x-www-form-urlencoded.',
    oauth: 'invalid_request',
  },
  client_secret_refused: {
    status: 401,
    title: TOKEN,
    message: 'This server accepts public clients only (token_endpoint_auth_method none).',
    oauth: 'invalid_client',
  },
  basic_credentials_invalid: {
    status: 400,
    title: TOKEN,
    message: 'The Basic credentials are not valid.',
    oauth: 'invalid_request',
  },
  client_id_conflict: {
    status: 400,
    title: TOKEN,
    message: 'Two different client_id values were sent.',
    oauth: 'invalid_request',
  },
  client_invalid: {
    status: 401,
    title: TOKEN,
    message: 'The client is unknown or not accepted on this gateway (the detail names why).',
    oauth: 'invalid_client',
  },
  code_missing: { status: 400, title: TOKEN, message: 'code is required.', oauth: 'invalid_request' },
  code_verifier_invalid: {
    status: 400,
    title: TOKEN,
    message: 'A valid code_verifier is required (PKCE).',
    oauth: 'invalid_grant',
  },
  code_invalid: {
    status: 400,
    title: TOKEN,
    message: 'The code is unknown, expired, or was issued to another client, redirect URI or verifier.',
    oauth: 'invalid_grant',
  },
  code_replayed: {
    status: 400,
    title: TOKEN,
    message: 'This code was already used; the tokens issued for it are revoked.',
    oauth: 'invalid_grant',
  },
  refresh_not_allowed: {
    status: 400,
    title: TOKEN,
    message: 'This client does not use refresh tokens.',
    oauth: 'unauthorized_client',
  },
  refresh_token_missing: {
    status: 400,
    title: TOKEN,
    message: 'refresh_token is required.',
    oauth: 'invalid_request',
  },
  refresh_token_invalid: {
    status: 400,
    title: TOKEN,
    message: 'The refresh token is unknown, expired, revoked, or belongs to another client.',
    oauth: 'invalid_grant',
  },
  refresh_token_reused: {
    status: 400,
    title: TOKEN,
    message: 'This refresh token was already used; the grant is revoked. Authorize again.',
    oauth: 'invalid_grant',
  },
  scope_widening: {
    status: 400,
    title: TOKEN,
    message: 'A refresh cannot widen the granted scope.',
    oauth: 'invalid_scope',
  },
  grant_type_missing: {
    status: 400,
    title: TOKEN,
    message: 'grant_type is required.',
    oauth: 'invalid_request',
  },
  grant_type_unsupported: {
    status: 400,
    title: TOKEN,
    message: 'Use grant_type authorization_code or refresh_token.',
    oauth: 'unsupported_grant_type',
  },
  token_parameter_missing: {
    status: 400,
    title: 'Revocation refused',
    message: 'token is required.',
    oauth: 'invalid_request',
  },
  registration_disabled: {
    status: 403,
    title: REGISTER,
    message: 'Dynamic client registration is turned off on this gateway; use a Client ID Metadata Document.',
    oauth: 'access_denied',
  },
  client_metadata_not_json: {
    status: 400,
    title: REGISTER,
    message: 'Send the client metadata as a JSON object with Content-Type application/json.',
    oauth: 'invalid_client_metadata',
  },
  client_metadata_invalid: {
    status: 400,
    title: REGISTER,
    message: 'A client metadata field is not valid (the detail names it).',
    oauth: 'invalid_client_metadata',
  },
  redirect_uri_invalid: {
    status: 400,
    title: REGISTER,
    message:
      'Each redirect URI must be https, or http on a loopback address, without a fragment or user info.',
    oauth: 'invalid_redirect_uri',
  },

  // The MCP endpoint (proxy function)
  token_missing: {
    status: 401,
    title: MCP,
    message: 'This MCP endpoint needs an access token from this gateway.',
  },
  token_invalid: {
    status: 401,
    title: MCP,
    message: 'The access token is not valid for this route. Authorize again.',
    oauth: 'invalid_token',
  },
  grant_revoked: {
    status: 401,
    title: MCP,
    message: "The access token's authorization was revoked. Authorize again.",
    oauth: 'invalid_token',
  },
  connect_required: {
    status: 401,
    title: MCP,
    message: 'Connect this route to your account at its MCP server first, then retry.',
    oauth: 'invalid_token',
  },
  upstream_scope_insufficient: {
    status: 401,
    title: MCP,
    message: 'The upstream needs more permissions for this; reconnect the route, then retry.',
    oauth: 'invalid_token',
  },
  body_not_json: { status: 400, title: MCP, message: 'The body is not JSON.', jsonrpc: -32700 },
  jsonrpc_invalid: {
    status: 400,
    title: MCP,
    message: 'Send one JSON-RPC message (an object) per request; batches are not accepted.',
    jsonrpc: -32600,
  },
  mcp_method_mismatch: {
    status: 400,
    title: MCP,
    message: 'The Mcp-Method header does not match the request body.',
    jsonrpc: -32020,
  },
  mcp_name_mismatch: {
    status: 400,
    title: MCP,
    message: 'The Mcp-Name header does not match the request body.',
    jsonrpc: -32020,
  },
  request_state_invalid: {
    status: 400,
    title: MCP,
    message: 'This requestState has expired or belongs to another call; send the call again without it.',
    jsonrpc: -32602,
  },
  session_unknown: { status: 404, title: MCP, message: 'Session not found.', jsonrpc: GATEWAY_RPC },
  refresh_unavailable: {
    status: 502,
    title: UPSTREAM,
    message:
      'The upstream’s authorization server could not refresh this connection right now. Try again shortly.',
    jsonrpc: GATEWAY_RPC,
  },
  upstream_unauthorized: {
    status: 502,
    title: UPSTREAM,
    message:
      'The upstream refuses this connection’s token even after a refresh. Reconnect the route on the gateway’s connections page.',
    jsonrpc: GATEWAY_RPC,
  },
  upstream_refused: {
    status: 502,
    title: UPSTREAM,
    message: 'The upstream MCP server could not be reached.',
    jsonrpc: GATEWAY_RPC,
  },
  upstream_timeout: {
    status: 504,
    title: UPSTREAM,
    message: 'The upstream MCP server did not answer in time.',
    jsonrpc: GATEWAY_RPC,
  },
  upstream_invalid: {
    status: 502,
    title: UPSTREAM,
    message: 'The upstream MCP server sent an answer that is not valid HTTP.',
    jsonrpc: GATEWAY_RPC,
  },
  upstream_blocked: {
    status: 502,
    title: UPSTREAM,
    message: 'The upstream MCP server’s address is not allowed.',
    jsonrpc: GATEWAY_RPC,
  },
  upstream_error: {
    status: 502,
    title: UPSTREAM,
    message: 'The upstream MCP server failed (its HTTP status is in the error data).',
    jsonrpc: GATEWAY_RPC,
  },
} satisfies Record<string, Refusal>;

type Catalogue = typeof CATALOGUE;

/** A code of the catalogue. */
export type RefusalCode = keyof Catalogue;

/** Codes that have an RFC OAuth error code (for OAuth-shaped answers). */
export type OAuthRefusalCode = {
  [K in RefusalCode]: Catalogue[K] extends { oauth: string } ? K : never;
}[RefusalCode];

/** Codes that have a JSON-RPC error code (for the MCP endpoint's JSON-RPC answers). */
export type JsonRpcRefusalCode = {
  [K in RefusalCode]: Catalogue[K] extends { jsonrpc: number } ? K : never;
}[RefusalCode];

export const REFUSALS: Readonly<Record<RefusalCode, Refusal>> = CATALOGUE;

export function isRefusalCode(value: string): value is RefusalCode {
  return Object.hasOwn(CATALOGUE, value);
}

/** The header that names a refusal on its response. */
export function refusalHeaders(code: RefusalCode): { [REFUSAL_HEADER]: RefusalCode } {
  return { [REFUSAL_HEADER]: code };
}

/**
 * A refusal's detail as it may be shown: a short identifier from the gateway's own vocabulary (a
 * validation rule such as `fetch.too_large`, a parameter or field name). Anything else — spaces,
 * markup, long values — is dropped, so a detail can never carry a request's text back to it.
 */
export function safeDetail(detail: string | undefined): string | undefined {
  return detail !== undefined && /^[A-Za-z0-9_.:[\]-]{1,80}$/.test(detail) ? detail : undefined;
}

/** The message with its detail, as OAuth `error_description` and JSON answers carry it. */
export function refusalMessage(code: RefusalCode, detail?: string): string {
  const shown = safeDetail(detail);
  return shown ? `${REFUSALS[code].message} (${shown})` : REFUSALS[code].message;
}
