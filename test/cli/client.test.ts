import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as client } from '../../cli/client.ts';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { captureIo } from './capture-io.ts';

/**
 * `mcp-edge client` against route A of the local gateway (demo upstream behind it): the first run
 * prints the authorization URL, the test's browser signs in and allows, the CLI receives the code on
 * its loopback listener and lists the tools through the proxy; the next run uses the stored tokens.
 */
describe('mcp-edge client', () => {
  let fx: AuthorizationFixture;
  let dir: string;
  let tokenFile: string;

  beforeAll(async () => {
    fx = await startAuthorizationFixture();
    dir = await mkdtemp(join(tmpdir(), 'mcp-edge-client-'));
    tokenFile = join(dir, 'client.json');
  });

  afterAll(async () => {
    await fx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const base = () => [fx.mcp(fx.A), '--ca', fx.cert.caPath, '--no-open', '--token-file', tokenFile];

  /** Runs the CLI and, when it asks, walks the printed URL with a browser that answers `consent`. */
  async function runAuthorizing(args: string[], consent: 'allow' | 'deny' = 'allow') {
    const io = captureIo();
    const done = client(args, io);
    const browser = fx.browser();
    for (let i = 0; i < 200 && !/authorize\S+/.test(io.stderr); i++)
      await new Promise((r) => setTimeout(r, 50));
    const url = /(https:\/\/\S+\/\.pomerium\/mcp\/authorize\S+)/.exec(io.stderr)?.[1];
    if (url) {
      const redirect = /Waiting for the browser on (http:\/\/127\.0\.0\.1:\d+\/callback)/.exec(
        io.stderr,
      )![1]!;
      const callback = await browser.authorize(new URL(url), redirect, 'cli-person', { consent });
      await undiciFetch(callback);
    }
    return { code: await done, io, asked: Boolean(url) };
  }

  it('authorizes through the browser and lists the demo tools through the gateway', async () => {
    const { code, io, asked } = await runAuthorizing(base());
    expect(asked).toBe(true);
    expect(code).toBe(0);
    expect(io.stdout).toContain('whoami');
    expect(io.stdout).toContain('echo');
  });

  it('keeps its registration and tokens in a file only its owner can read, and never prints them', async () => {
    const mode = (await stat(tokenFile)).mode & 0o777;
    expect(mode).toBe(0o600);
    const stored = JSON.parse(await readFile(tokenFile, 'utf8')) as Record<
      string,
      { tokens?: { access_token?: string } }
    >;
    const token = stored[fx.mcp(fx.A)]?.tokens?.access_token;
    expect(token).toBeTruthy();
  });

  it('calls a tool on the next run with the stored tokens, without asking again', async () => {
    const io = captureIo();
    expect(await client([...base(), 'tools/call', 'echo', '{"text":"through the gateway"}'], io)).toBe(0);
    expect(io.stdout).toBe('through the gateway\n');
    expect(io.stderr).not.toContain('Open this URL');
  });

  it('reports a denied authorization and exits 1', async () => {
    const other = join(dir, 'other.json');
    const { code, io } = await runAuthorizing(
      [fx.mcp(fx.A), '--ca', fx.cert.caPath, '--no-open', '--token-file', other],
      'deny',
    );
    expect(code).toBe(1);
    expect(io.stderr).toContain('access_denied');
  });

  it.each([
    [[], 'the MCP server URL is required'],
    [['not a url'], 'not a URL'],
    [['http://mcp.example.com/mcp'], 'must be https'],
    [['https://mcp.example.com/mcp', 'tools/destroy'], 'unknown request'],
    [['https://mcp.example.com/mcp', 'tools/call'], 'tool name'],
    [['https://mcp.example.com/mcp', 'tools/call', 'echo', '{not json'], 'not valid JSON'],
    [['https://mcp.example.com/mcp', 'tools/call', 'echo', '[1]'], 'JSON object'],
    [['https://mcp.example.com/mcp', '--port', '70000'], '--port'],
    [['https://mcp.example.com/mcp', '--bogus'], 'unknown option --bogus'],
  ])('refuses %j with a usage error (exit 2)', async (args, message) => {
    const io = captureIo();
    expect(await client(args as string[], io)).toBe(2);
    expect(io.stderr).toContain(message);
  });
});
