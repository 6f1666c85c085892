// The local demo `npm start` runs: two routes on https://localhost, each with its own listener,
// CIMD and callback, both in front of the demo upstream MCP server (functions/local/demo/), which
// `npm start` runs on https://localhost:9400 with its own authorization server on :9401.
// `allowPrivateNetwork` lets the gateway reach them on loopback; `cdk synth` refuses it.
import { defineConfig } from '../functions/core/config/schema.ts';

export default defineConfig({
  routes: [
    {
      from: 'https://localhost:8443',
      to: 'https://localhost:9400/mcp',
      name: 'Demo tools',
      allowPrivateNetwork: true,
    },
    {
      from: 'https://localhost:8444',
      to: 'https://localhost:9400/mcp',
      name: 'Demo tools (second route)',
      allowPrivateNetwork: true,
    },
  ],
  // MCP clients that host their Client ID Metadata Document on this machine (a local dev client)
  // may be fetched from loopback. Local only: `cdk synth` refuses it.
  trustPolicy: { allowPrivateNetwork: true },
});
