import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { recordSecret, recordTokenAnswer } from './secrets.ts';

/**
 * An MCP SDK v1 `OAuthClientProvider` kept in memory, as a desktop MCP client would keep it on
 * disk: a loopback redirect URI, an optional Client ID Metadata Document URL (`clientMetadataUrl`),
 * or a fixed pre-registered client. The authorization URL the SDK wants opened is captured for
 * the test's browser to walk.
 */
export class MemoryOAuthProvider implements OAuthClientProvider {
  authorizationUrl?: URL;
  private verifier?: string;
  private saved?: OAuthTokens;
  private info?: OAuthClientInformationMixed;

  constructor(
    private readonly options: {
      redirectUrl: string;
      clientMetadataUrl?: string;
      /** A client_id the client was given out of band (a configured `mcpClients` entry). */
      clientId?: string;
      clientName?: string;
    },
  ) {
    if (options.clientId) this.info = { client_id: options.clientId };
  }

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }

  get clientMetadataUrl(): string | undefined {
    return this.options.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName ?? 'MCP Edge test client',
      redirect_uris: [this.options.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.info;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    recordTokenAnswer(info);
    this.info = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.saved;
  }

  saveTokens(tokens: OAuthTokens): void {
    recordTokenAnswer(tokens);
    this.saved = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  saveCodeVerifier(verifier: string): void {
    recordSecret('pkce verifier', verifier);
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }
}
