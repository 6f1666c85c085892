import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTlsFixture, type TestServer, type TlsFixture } from '../unit/http/https-fixture.ts';
import { good } from './cases.ts';

/**
 * The real CLI as a user runs it: `node --import tsx bin/mcp-edge.ts ...`, checking exit codes and
 * that no stack trace reaches the terminal. Everything else is tested in-process (faster).
 * Spawned asynchronously, so the HTTPS server in this process keeps answering.
 */
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-spawn-'));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bin/mcp-edge.ts', ...args],
      { cwd: root, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe('mcp-edge (spawned)', () => {
  let tls: TlsFixture;
  let server: TestServer;
  const cimdUrl = () => `https://127.0.0.1:${server.port}/.well-known/mcp-client-metadata.json`;

  beforeAll(async () => {
    tls = createTlsFixture();
    server = await tls.start((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'cache-control': 'public, max-age=3600, s-maxage=86400',
        etag: '"spawned"',
      });
      res.end(JSON.stringify(good({ client_id: cimdUrl() })));
    });
  });

  afterAll(async () => {
    await tls.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.concurrent('creates a document with -o that cimd validate accepts (exit 0, 0)', async () => {
    const file = join(dir, 'created.json');
    const created = await cli(
      'cimd',
      'create',
      '--name',
      'Spawned Client',
      '--redirect-uri',
      'http://127.0.0.1:8976/callback',
      '--client-id',
      'https://client.example.com/oauth/spawned.json',
      '-o',
      file,
    );
    expect(created).toMatchObject({ code: 0, stdout: '' });
    const validated = await cli('cimd', 'validate', file);
    expect(validated.stdout).toMatch(/^valid$/m);
    expect(validated.code).toBe(0);
  });

  it.concurrent("runs the seed's `cimd validate FILE -v` as `--verbose` (exit 0, passed checks listed)", async () => {
    const file = join(dir, 'seed.json');
    writeFileSync(file, JSON.stringify(good()));
    const result = await cli('cimd', 'validate', file, '-v');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ok     doc.client_secret_forbidden:');
    expect(result.stdout).toMatch(/^valid$/m);
  });

  it.concurrent('prints help to stdout with exit 0, and refuses an unknown option with exit 2', async () => {
    const [top, group, command, unknown] = await Promise.all([
      cli('--help'),
      cli('cimd', '-h'),
      cli('cimd', 'create', '--help'),
      cli('routes', '--nope'),
    ]);
    expect(top).toMatchObject({ code: 0, stderr: '' });
    expect(top.stdout).toMatch(/^usage: mcp-edge <command>/);
    expect(group).toMatchObject({ code: 0, stderr: '' });
    expect(group.stdout).toMatch(/^usage: mcp-edge cimd /);
    expect(command).toMatchObject({ code: 0, stderr: '' });
    expect(command.stdout).toMatch(/^usage: mcp-edge cimd create /);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toContain('mcp-edge routes: unknown option --nope');
  });

  it.concurrent('refuses a hostile URL with exit 1 and the rule name', async () => {
    const result = await cli('cimd', 'validate', 'https://@client.example.com/a/%2e%2e/c.json#');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('url.no_userinfo');
    expect(result.stdout).toContain('url.dot_segment');
    expect(result.stdout).toContain('url.fragment');
  });

  it.concurrent('refuses a bad document with exit 1 and the rule name', async () => {
    const file = join(dir, 'secret.json');
    writeFileSync(
      file,
      JSON.stringify(good({ client_secret: 'x', token_endpoint_auth_method: 'client_secret_post' })),
    );
    const result = await cli('cimd', 'validate', file);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('doc.client_secret_forbidden');
    expect(result.stdout).toContain('doc.auth_method_shared_secret');
  });

  it.concurrent('exits 2 on usage errors, without a stack trace', async () => {
    const results = await Promise.all([
      cli('cimd', 'validate'),
      cli('cimd', 'create', '--redirect-uri', 'https://a.example/cb'),
      cli('routes', '--nope'),
      cli('cimd', 'validate', join(dir, 'does-not-exist.json')),
    ]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it.concurrent('validates a URL on 127.0.0.1 with --allow-private-network and --ca, reporting caching headers', async () => {
    const result = await cli('cimd', 'validate', cimdUrl(), '--allow-private-network', '--ca', tls.certFile);
    expect(result.stdout).toMatch(/^valid$/m);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Cache-Control: public, max-age=3600, s-maxage=86400');
    expect(result.stdout).toContain('ETag: "spawned"');
  });

  it.concurrent('refuses the same URL without --allow-private-network (ssrf.private_address, exit 1)', async () => {
    const result = await cli('cimd', 'validate', cimdUrl(), '--ca', tls.certFile);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('ssrf.private_address');
  });

  it.concurrent('lists routes from gateway.config.ts', async () => {
    const result = await cli('routes', '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).routes.length).toBeGreaterThan(0);
  });
});
