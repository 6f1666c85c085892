import type { Route } from '../routes.ts';

/**
 * A Client ID Metadata Document as the gateway publishes it for a route
 * (draft-ietf-oauth-client-id-metadata-document §4, and the route-side seed's field table).
 */
export interface ClientMetadataDocument {
  client_id: string;
  client_name: string;
  client_uri: string;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: string;
  logo_uri?: string;
  contacts?: string[];
  tos_uri?: string;
  policy_uri?: string;
}

/**
 * Builds the route's document. Field order is fixed so the serialised bytes, and so the
 * ETag, stay the same from one deployment to the next. Optional fields appear only when
 * configured.
 */
export function generateCimd(route: Route): ClientMetadataDocument {
  const doc: ClientMetadataDocument = {
    client_id: route.cimdUrl,
    client_name: route.clientName,
    client_uri: route.origin,
    redirect_uris: [route.callbackUrl],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
  const extra = route.config.cimd;
  if (extra?.logoUri) doc.logo_uri = extra.logoUri;
  if (extra?.contacts?.length) doc.contacts = [...extra.contacts];
  if (extra?.tosUri) doc.tos_uri = extra.tosUri;
  if (extra?.policyUri) doc.policy_uri = extra.policyUri;
  return doc;
}
