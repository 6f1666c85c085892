import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as routes } from '../../cli/routes.ts';
import { captureIo } from './capture-io.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-routes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, config: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const config = {
  routes: [
    { from: 'https://mcp.example.com', to: 'https://up.example.net/mcp', name: 'Docs' },
    {
      from: 'https://b.example.com:8443',
      to: 'https://up.example.org/mcp',
      clientName: 'Exact Name',
      path: '/v1/mcp',
    },
  ],
};

describe('mcp-edge routes', () => {
  it('lists every route with its CIMD URL, callback URL and client_name', async () => {
    const io = captureIo();
    expect(await routes(['--config', writeConfig('ok.json', config)], io)).toBe(0);
    expect(io.stdout).toContain('2 routes in');
    expect(io.stdout).toContain('https://mcp.example.com -> https://up.example.net/mcp');
    expect(io.stdout).toContain('client_name   Docs (MCP Edge - mcp.example.com)');
    expect(io.stdout).toContain('CIMD URL      https://mcp.example.com/.well-known/mcp-client-metadata.json');
    expect(io.stdout).toContain('callback URL  https://mcp.example.com/.pomerium/oauth/callback');
    expect(io.stdout).toContain(
      'CIMD URL      https://b.example.com:8443/.well-known/mcp-client-metadata.json',
    );
    expect(io.stdout).toContain('client_name   Exact Name');
  });

  it('prints each route’s MCP endpoint, protected resource metadata and issuer (for MCP clients)', async () => {
    const io = captureIo();
    expect(await routes(['--config', writeConfig('mcp.json', config)], io)).toBe(0);
    expect(io.stdout).toContain('MCP endpoint  https://mcp.example.com/mcp');
    expect(io.stdout).toContain(
      'PRM           https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    );
    expect(io.stdout).toContain('issuer        https://mcp.example.com');
    // routes[].path replaces the path of `to`.
    expect(io.stdout).toContain('MCP endpoint  https://b.example.com:8443/v1/mcp');
    expect(io.stdout).toContain(
      'PRM           https://b.example.com:8443/.well-known/oauth-protected-resource/v1/mcp',
    );
  });

  it('prints JSON with --json', async () => {
    const io = captureIo();
    const file = writeConfig('json.json', config);
    expect(await routes(['--config', file, '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual({
      config: file,
      routes: [
        {
          from: 'https://mcp.example.com',
          to: 'https://up.example.net/mcp',
          name: 'Docs',
          clientName: 'Docs (MCP Edge - mcp.example.com)',
          cimdUrl: 'https://mcp.example.com/.well-known/mcp-client-metadata.json',
          callbackUrl: 'https://mcp.example.com/.pomerium/oauth/callback',
          mcpEndpoint: 'https://mcp.example.com/mcp',
          resourceMetadataUrl: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
          issuer: 'https://mcp.example.com',
        },
        {
          from: 'https://b.example.com:8443',
          to: 'https://up.example.org/mcp',
          clientName: 'Exact Name',
          cimdUrl: 'https://b.example.com:8443/.well-known/mcp-client-metadata.json',
          callbackUrl: 'https://b.example.com:8443/.pomerium/oauth/callback',
          mcpEndpoint: 'https://b.example.com:8443/v1/mcp',
          resourceMetadataUrl: 'https://b.example.com:8443/.well-known/oauth-protected-resource/v1/mcp',
          issuer: 'https://b.example.com:8443',
        },
      ],
    });
  });

  it('reads gateway.config.ts by default', async () => {
    const io = captureIo();
    expect(await routes([], io)).toBe(0);
    expect(io.stdout).toContain('in gateway.config.ts');
    expect(io.stdout).toContain('/.well-known/mcp-client-metadata.json');
  });

  it('exits 1 with the config errors for a bad config', async () => {
    const io = captureIo();
    const file = writeConfig('bad.json', {
      routes: [{ from: 'http://x.example.com/path', to: 'https://u.example/mcp', frm: 1 }],
    });
    expect(await routes(['--config', file], io)).toBe(1);
    expect(io.stderr).toContain('is not a valid MCP Edge config');
    expect(io.stderr).toContain('routes[0].frm: unknown key');
    expect(io.stderr).toContain('routes[0].from:');
    expect(io.stdout).toBe('');
  });

  it('exits 1 for a missing config file', async () => {
    const io = captureIo();
    expect(await routes(['--config', join(dir, 'nope.json')], io)).toBe(1);
    expect(io.stderr).toContain('file not found');
  });

  it.each([[['--colour']], [['extra']], [['--config']]])('exits 2 for %j', async (args) => {
    const io = captureIo();
    expect(await routes(args, io)).toBe(2);
    expect(io.stderr).toContain('usage: mcp-edge routes');
  });
});
