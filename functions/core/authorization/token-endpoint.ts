import { randomUUID } from 'node:crypto';
import { sha256Base64url } from '../crypto/hash.ts';
import type { Route } from '../routes.ts';
import type { CodeStore } from '../store/authorization-codes.ts';
import { GrantRevokedError, type GrantStore } from '../store/grants.ts';
import { telemetryOf } from '../telemetry.ts';
import { mintAccessToken } from './access-token.ts';
import type { ClientResolver } from './clients.ts';
import { oauthError, oauthJson, readOAuthForm } from './oauth-errors.ts';
import type { TokenSigner } from './signer.ts';

export interface TokenEndpointDeps {
  readonly resolveClient: ClientResolver;
  readonly codes: CodeStore;
  readonly grants: GrantStore;
  readonly signer: TokenSigner;
  readonly accessTokenTtlSeconds: number;
  readonly now: () => number;
}

/** RFC 7636 §4.1: 43–128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * The public client's id: from the body, or from HTTP Basic with an empty password (some clients
 * send it that way). A password means the client thinks it has a secret: none is accepted here.
 */
function clientIdOf(
  request: Request,
  form: URLSearchParams,
): { ok: true; clientId: string } | { ok: false; response: Response } {
  const header = request.headers.get('authorization');
  let fromBasic: string | undefined;
  if (header) {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
    const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (!match || colon < 0 || decoded.slice(colon + 1) !== '') {
      // RFC 6749 §5.2: the challenge names the scheme the client tried (letters only, from its header).
      const scheme = /^[A-Za-z][A-Za-z0-9_-]{0,19}(?=\s|$)/.exec(header.trim())?.[0] ?? 'Basic';
      return {
        ok: false,
        response: oauthError('client_secret_refused', {
          challenge: `${scheme} realm="mcp-edge", error="invalid_client"`,
        }),
      };
    }
    try {
      fromBasic = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    } catch {
      return {
        ok: false,
        response: oauthError('basic_credentials_invalid'),
      };
    }
  }
  const fromBody = form.get('client_id') ?? undefined;
  if (form.has('client_secret')) {
    return { ok: false, response: oauthError('client_secret_refused') };
  }
  if (fromBasic !== undefined && fromBody !== undefined && fromBasic !== fromBody) {
    return { ok: false, response: oauthError('client_id_conflict') };
  }
  const clientId = fromBody ?? fromBasic;
  if (!clientId) return { ok: false, response: oauthError('client_id_missing') };
  return { ok: true, clientId };
}

/**
 * `POST /.pomerium/mcp/token`: the authorization code grant (with PKCE) and the refresh token
 * grant (with rotation), for this route's resource only. Errors are RFC 6749 §5.2 JSON.
 */
export async function tokenEndpoint(
  deps: TokenEndpointDeps,
  request: Request,
  route: Route,
): Promise<Response> {
  const read = await readOAuthForm(request);
  if (!read.ok) return read.response;
  const { form } = read;
  const who = clientIdOf(request, form);
  if (!who.ok) return who.response;
  const resource = form.get('resource');
  if (resource !== null && resource !== route.resource) {
    return oauthError('resource_invalid');
  }
  const found = await deps.resolveClient(who.clientId, route.origin);
  // The resolver's own code (client_blocked, client_document_invalid, …) says why, as the detail.
  if (!found.ok) return oauthError('client_invalid', { detail: found.code });
  const client = found.client;

  switch (form.get('grant_type')) {
    case 'authorization_code': {
      const code = form.get('code');
      const redirectUri = form.get('redirect_uri');
      const verifier = form.get('code_verifier');
      if (!code) return oauthError('code_missing');
      if (!verifier || !VERIFIER.test(verifier)) {
        return oauthError('code_verifier_invalid');
      }
      const challenge = sha256Base64url(verifier);
      const redeemed = await deps.codes.redeem(
        code,
        {
          clientId: client.clientId,
          ...(redirectUri === null ? {} : { redirectUri }),
          challenge,
          resource: route.resource,
          route: route.origin,
        },
        randomUUID(),
      );
      if (!redeemed.ok) {
        if (redeemed.reason === 'replayed') {
          // RFC 6749 §4.1.2: a code used twice revokes what it was first exchanged for.
          await deps.grants.revokeGrant(redeemed.grant);
          return oauthError('code_replayed');
        }
        return oauthError('code_invalid');
      }
      const grant = {
        userId: redeemed.code.userId,
        route: route.origin,
        clientId: client.clientId,
        grantId: redeemed.code.grantId,
        scope: redeemed.code.scope,
        resource: route.resource,
      };
      let refreshToken: string;
      try {
        refreshToken = await deps.grants.createGrant(grant, redeemed.code.issuedAt);
      } catch (error) {
        if (!(error instanceof GrantRevokedError)) throw error;
        // Replayed meanwhile, or approved just before the person revoked this client.
        return oauthError(error.reason === 'replayed' ? 'code_replayed' : 'code_invalid');
      }
      const telemetry = telemetryOf(request);
      return issue(deps, route, grant, client.refreshTokens ? refreshToken : undefined, () =>
        telemetry.tokenIssued('authorization_code'),
      );
    }
    case 'refresh_token': {
      if (!client.refreshTokens) return oauthError('refresh_not_allowed');
      const token = form.get('refresh_token');
      if (!token) return oauthError('refresh_token_missing');
      const scope = form.get('scope');
      const rotated = await deps.grants.rotate(token, { clientId: client.clientId, route: route.origin });
      if (!rotated.ok) {
        return oauthError(rotated.reason === 'reused' ? 'refresh_token_reused' : 'refresh_token_invalid');
      }
      if (scope !== null && !scope.split(' ').every((s) => rotated.grant.scope.split(' ').includes(s))) {
        return oauthError('scope_widening');
      }
      const telemetry = telemetryOf(request);
      return issue(deps, route, rotated.grant, rotated.refreshToken, () =>
        telemetry.tokenIssued('refresh_token'),
      );
    }
    case null:
      return oauthError('grant_type_missing');
    default:
      return oauthError('grant_type_unsupported');
  }
}

async function issue(
  deps: TokenEndpointDeps,
  route: Route,
  grant: { userId: string; clientId: string; grantId: string; scope: string },
  refreshToken: string | undefined,
  issued: () => void,
): Promise<Response> {
  const { token } = await mintAccessToken(deps.signer, {
    route,
    subject: grant.userId,
    clientId: grant.clientId,
    scope: grant.scope,
    grantId: grant.grantId,
    ttlSeconds: deps.accessTokenTtlSeconds,
    now: deps.now(),
  });
  issued();
  return oauthJson(200, {
    access_token: token,
    token_type: 'Bearer',
    expires_in: deps.accessTokenTtlSeconds,
    scope: grant.scope,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
  });
}
