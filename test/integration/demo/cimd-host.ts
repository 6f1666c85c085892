import { type DemoTls, listenHttps } from '../../../functions/local/demo/https-listener.ts';

export interface CimdHost {
  /** The client ID: the URL of the document, byte for byte. */
  readonly clientId: string;
  readonly redirectUri: string;
  stop(): Promise<void>;
}

/**
 * A stand-in for a gateway route: serves one Client ID Metadata Document shaped like the ones
 * the gateway generates (DESIGN.md "Generated CIMD") from `https://localhost:PORT`.
 */
export async function startCimdHost(tls: DemoTls): Promise<CimdHost> {
  const listener = await listenHttps(0, tls);
  const clientId = `${listener.origin}/.well-known/mcp-client-metadata.json`;
  const redirectUri = `${listener.origin}/.pomerium/oauth/callback`;
  const document = JSON.stringify({
    client_id: clientId,
    client_name: 'Demo tools via MCP Edge',
    client_uri: listener.origin,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  });
  listener.serve((req, res) => {
    if (req.url !== '/.well-known/mcp-client-metadata.json') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
    res.end(document);
  });
  return { clientId, redirectUri, stop: listener.stop };
}
