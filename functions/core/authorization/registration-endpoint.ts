import { z } from 'zod';
import type { Route } from '../routes.ts';
import type { McpClientStore } from '../store/mcp-clients.ts';
import { oauthError, oauthJson, readLimited } from './oauth-errors.ts';

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

const redirectUri = z
  .string()
  .max(2048)
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        if (url.hash || value.includes('#') || url.username || url.password) return false;
        return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
      } catch {
        return false;
      }
    },
    { error: 'each redirect URI must be https, or http on a loopback address, without a fragment' },
  );

const httpsUri = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      return new URL(v).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an https URL');

/** RFC 7591 §2 metadata, as far as this server uses it; unknown fields are ignored (§3.2.1 lets us). */
const registrationSchema = z.looseObject({
  redirect_uris: z.array(redirectUri).min(1, 'redirect_uris is required').max(10),
  client_name: z.string().min(1).max(200).optional(),
  client_uri: httpsUri.optional(),
  token_endpoint_auth_method: z.string().max(64).optional(),
  grant_types: z
    .array(z.enum(['authorization_code', 'refresh_token']))
    .max(2)
    .optional(),
  response_types: z.array(z.literal('code')).max(1).optional(),
});

/**
 * `POST /.pomerium/mcp/register` (RFC 7591): public clients only. A client that asks for a
 * shared-secret method is registered as `none` (RFC 7591 §3.2.1: the server may replace a
 * value) and told so in the answer. Registered clients always see the consent page, marked
 * unverified.
 */
export async function registrationEndpoint(
  deps: { clients: McpClientStore; enabled: boolean },
  request: Request,
  route: Route,
): Promise<Response> {
  if (!deps.enabled) {
    return oauthError('registration_disabled');
  }
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  if (!type.startsWith('application/json')) {
    return oauthError('client_metadata_not_json');
  }
  const bytes = await readLimited(request, 16_384);
  if (!bytes) return oauthError('request_too_large');
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return oauthError('client_metadata_not_json');
  }
  const parsed = registrationSchema.safeParse(body);
  if (!parsed.success) {
    // The field's path is the detail (schema keys and indexes); the values sent are not repeated.
    const path = parsed.error.issues[0]!.path;
    const field = path.join('.') || undefined;
    return oauthError(path[0] === 'redirect_uris' ? 'redirect_uri_invalid' : 'client_metadata_invalid', {
      ...(field ? { detail: field } : {}),
    });
  }
  const meta = parsed.data;
  const grantTypes = meta.grant_types ?? ['authorization_code'];
  if (!grantTypes.includes('authorization_code')) {
    return oauthError('client_metadata_invalid', { detail: 'grant_types' });
  }
  const client = await deps.clients.register({
    route: route.origin,
    redirectUris: meta.redirect_uris,
    grantTypes,
    ...(meta.client_name ? { clientName: meta.client_name } : {}),
    ...(meta.client_uri ? { clientUri: meta.client_uri } : {}),
  });
  return oauthJson(201, {
    client_id: client.clientId,
    client_id_issued_at: Math.floor(client.issuedAt / 1000),
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...(client.clientName ? { client_name: client.clientName } : {}),
    ...(client.clientUri ? { client_uri: client.clientUri } : {}),
  });
}
