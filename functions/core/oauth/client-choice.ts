import * as oauth from 'oauth4webapi';
import { generateCimd } from '../cimd/generate.ts';
import type { Route } from '../routes.ts';
import type { RegistrationStore } from '../store/registrations.ts';
import type { ClientAuthDescriptor } from '../vault/client-auth.ts';
import { fail, type OutboundFetch, type Result } from './types.ts';

/** The client identity the gateway uses for a route at an upstream authorization server. */
export interface ChosenClient {
  readonly source: 'configured' | 'cimd' | 'registered';
  readonly clientId: string;
  readonly clientAuth: ClientAuthDescriptor;
}

export type ClientChoiceCode = 'no_client_available' | 'registration_failed';

/**
 * The MCP client-registration priority (MCP authorization, "Client Registration Approaches"):
 * a pre-registered client from the config → the route's own Client ID Metadata Document when the
 * server says it supports them → dynamic client registration, kept per (route, issuer) → nothing
 * (the caller shows the operator what to configure).
 */
export async function chooseClient(options: {
  readonly route: Route;
  readonly as: oauth.AuthorizationServer;
  readonly registrations: RegistrationStore;
  readonly fetch: OutboundFetch;
  readonly allowInsecure?: boolean;
}): Promise<Result<ChosenClient, ClientChoiceCode>> {
  const { route, as } = options;
  const configured = route.config.upstream;
  if (configured?.clientId) {
    const secretRef = configured.clientSecret;
    return {
      ok: true,
      source: 'configured',
      clientId: configured.clientId,
      clientAuth: secretRef ? { method: 'client_secret_basic', secretRef } : { method: 'none' },
    };
  }
  if (as.client_id_metadata_document_supported === true) {
    return { ok: true, source: 'cimd', clientId: route.cimdUrl, clientAuth: { method: 'none' } };
  }
  if (as.registration_endpoint) {
    const existing = await options.registrations.get(route.origin, as.issuer);
    if (existing) return registered(existing.clientId, existing.tokenEndpointAuthMethod);
    const doc = generateCimd(route);
    let client: oauth.OmitSymbolProperties<oauth.Client>;
    try {
      const response = await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: doc.client_name,
          client_uri: doc.client_uri,
          redirect_uris: doc.redirect_uris,
          grant_types: doc.grant_types,
          response_types: doc.response_types,
          token_endpoint_auth_method: 'none',
        },
        {
          [oauth.customFetch]: options.fetch as never,
          [oauth.allowInsecureRequests]: options.allowInsecure === true,
        },
      );
      client = await oauth.processDynamicClientRegistrationResponse(response);
    } catch {
      return fail('registration_failed', `Dynamic client registration at ${as.issuer} failed.`);
    }
    const method = (client.token_endpoint_auth_method as string | undefined) ?? 'client_secret_basic';
    if (method !== 'none' && method !== 'client_secret_basic' && method !== 'client_secret_post') {
      return fail(
        'registration_failed',
        `${as.issuer} registered a client with an unsupported method "${method}".`,
      );
    }
    if (method !== 'none' && typeof client.client_secret !== 'string') {
      return fail('registration_failed', `${as.issuer} asked for "${method}" but issued no client secret.`);
    }
    const stored = await options.registrations.put(route.origin, as.issuer, {
      clientId: client.client_id,
      tokenEndpointAuthMethod: method,
      clientSecret: typeof client.client_secret === 'string' ? client.client_secret : undefined,
    });
    return registered(stored.clientId, stored.tokenEndpointAuthMethod);
  }
  return fail(
    'no_client_available',
    `${as.issuer} supports neither Client ID Metadata Documents nor dynamic client registration.`,
  );
}

function registered(clientId: string, method: 'none' | 'client_secret_basic' | 'client_secret_post') {
  const clientAuth: ClientAuthDescriptor = method === 'none' ? { method } : { method };
  return { ok: true as const, source: 'registered' as const, clientId, clientAuth };
}
