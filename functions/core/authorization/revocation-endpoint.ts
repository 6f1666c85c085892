import type { Route } from '../routes.ts';
import type { GrantStore } from '../store/grants.ts';
import type { AccessTokenVerifier } from './access-token.ts';
import { oauthError, oauthJson, readOAuthForm } from './oauth-errors.ts';

/**
 * `POST /.pomerium/mcp/revoke` (RFC 7009): a refresh token or an access token of this route,
 * presented by the client it was issued to, revokes its whole grant (every refresh token of the
 * family; access tokens stop at the proxy's next grant check). Unknown, foreign and malformed
 * tokens get the same empty `200` (§2.2), so the endpoint tells an attacker nothing.
 */
export async function revocationEndpoint(
  deps: { grants: GrantStore; verify: AccessTokenVerifier },
  request: Request,
  route: Route,
): Promise<Response> {
  const read = await readOAuthForm(request);
  if (!read.ok) return read.response;
  const { form } = read;
  const token = form.get('token');
  const clientId = form.get('client_id');
  if (!token) return oauthError('token_parameter_missing');
  if (!clientId) return oauthError('client_id_missing');
  const presented = { clientId, route: route.origin };
  const grant = await deps.grants.grantOfRefreshToken(token, presented);
  if (grant) {
    await deps.grants.revokeGrant(grant);
  } else if (token.includes('.')) {
    const verified = await deps.verify(token, route);
    if (verified.ok && verified.claims.client_id === clientId) {
      await deps.grants.revokeGrant({
        userId: verified.claims.sub,
        route: route.origin,
        clientId,
        grantId: verified.claims.sid,
      });
    }
  }
  return oauthJson(200, {});
}
