#!/usr/bin/env node
// Installed-command shim: registers tsx so the TypeScript CLI runs as is.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./mcp-edge.ts');
process.exitCode = await main(process.argv.slice(2));
