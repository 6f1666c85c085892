// The operator's file: `npx cdk deploy --all` turns it into a deployment.
// Every route gets its own CloudFront distribution, API Gateway custom domain, certificates and
// DNS records, and serves its own Client ID Metadata Document at
//   https://<route host>/.well-known/mcp-client-metadata.json
// Adding a route here (and deploying) is all it takes to add one.
import { defineConfig } from './functions/core/config/schema.ts';

export default defineConfig({
  // Where the gateway runs. CloudFront certificates always live in us-east-1 (a second stack).
  aws: { account: '123456789012', region: 'eu-west-1' },

  // The Route 53 zone the route hosts live in (a route may name its own `hostedZone`).
  hostedZone: { id: 'Z0123456789EXAMPLE', name: 'example.com' },

  routes: [
    {
      // The public origin MCP clients use: https, a host, no path.
      from: 'https://mcp.example.com',
      // The upstream MCP server the route forwards to.
      to: 'https://api.upstream.example.net/mcp',
      // Shown to people on the upstream's consent screen as "GitHub tools (MCP Edge - mcp.example.com)".
      name: 'GitHub tools',
    },
    {
      from: 'https://docs-mcp.example.com',
      to: 'https://docs.upstream.example.org/mcp',
      // Overrides the generated client_name entirely.
      clientName: 'Example Docs via MCP Edge',
      // Optional CIMD fields, published only when set.
      cimd: {
        logoUri: 'https://example.com/logo.png',
        contacts: ['mcp-admin@example.com'],
        policyUri: 'https://example.com/privacy',
      },
    },
  ],
});
