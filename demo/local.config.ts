// The local demo `npm start` runs: two routes on https://localhost, each with its own listener,
// CIMD and callback. Local-only settings are allowed here and refused by `cdk synth`.
import { defineConfig } from '../functions/core/config/schema.ts';

export default defineConfig({
  routes: [
    {
      from: 'https://localhost:8443',
      to: 'http://127.0.0.1:9400/mcp',
      name: 'Demo tools',
      allowInsecureUpstream: true,
      allowPrivateNetwork: true,
    },
    {
      from: 'https://localhost:8444',
      to: 'http://127.0.0.1:9400/mcp',
      name: 'Demo tools (second route)',
      allowInsecureUpstream: true,
      allowPrivateNetwork: true,
    },
  ],
});
