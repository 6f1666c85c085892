import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './synth.ts';

const out = mkdtempSync(join(tmpdir(), 'mcp-edge-synth-'));
/** The synthesized templates of the three-route fixture, once the first test wrote them. */
let synthesizedTemplates: string[] = [];
/** cfn-lint (python) is on the development image; a machine without it skips that one check. */
const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
const hasCfnLint = cfnLint.status === 0;
let bundledCimd: { file: string; routes: string } | undefined;
/** The other functions' bundles, by function name. */
const bundles = new Map<string, string>();
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs the real CDK CLI offline: no credentials, no AWS endpoints, no notices. */
function cdkSynth(config: string, outdir: string) {
  const started = Date.now();
  const result = spawnSync('npx', ['cdk', 'synth', '-c', `config=${config}`, '--quiet', '-o', outdir], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_DEFAULT_ACCOUNT: '',
    },
    timeout: 90_000,
  });
  return { ...result, seconds: (Date.now() - started) / 1000 };
}

describe('npx cdk synth', () => {
  it('synthesizes the three-route fixture offline, bundling every function with the local esbuild', () => {
    const outdir = join(out, 'ok');
    const result = cdkSynth('test/fixtures/infra-three-routes.config.json', outdir);
    console.info(`cdk synth with bundling took ${result.seconds.toFixed(1)} s`);
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(join(outdir, 'McpEdgeCertificates.template.json'))).toBe(true);
    expect(existsSync(join(outdir, 'McpEdgeGateway.template.json'))).toBe(true);
    synthesizedTemplates = readdirSync(outdir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => join(outdir, f));

    const template = JSON.parse(readFileSync(join(outdir, 'McpEdgeGateway.template.json'), 'utf8'));
    type LambdaResource = {
      Type: string;
      Properties: {
        Description?: string;
        Code?: { S3Key: string };
        Environment?: { Variables: Record<string, string> };
      };
    };
    const fn = Object.values(template.Resources as Record<string, LambdaResource>).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === 'MCP Edge: cimd',
    );
    const assetHash = fn!.Properties.Code!.S3Key.replace(/\.zip$/, '');
    const bundle = join(outdir, `asset.${assetHash}`);
    expect(readdirSync(bundle).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const code = readFileSync(join(bundle, 'index.mjs'), 'utf8');
    // The ESM banner gives CommonJS dependencies a `require`.
    expect(code.startsWith("import { createRequire as __mcpEdgeCreateRequire } from 'node:module';")).toBe(
      true,
    );
    expect(code).toMatch(/export\s*\{[^}]*\bhandler\b/);
    bundledCimd = {
      file: join(bundle, 'index.mjs'),
      routes: fn!.Properties.Environment!.Variables.MCP_EDGE_ROUTES!,
    };
    for (const name of ['login', 'connect', 'callback']) {
      const other = Object.values(template.Resources as Record<string, LambdaResource>).find(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === `MCP Edge: ${name}`,
      );
      bundles.set(
        name,
        join(outdir, `asset.${other!.Properties.Code!.S3Key.replace(/\.zip$/, '')}`, 'index.mjs'),
      );
    }
  });

  it('produces a cimd bundle that runs: it serves the document with the template’s route table', async () => {
    expect(bundledCimd, 'needs the synth above').toBeDefined();
    process.env.MCP_EDGE_ROUTES = bundledCimd!.routes;
    process.env.MCP_EDGE_ORIGIN_VERIFY = 'origin-secret-for-this-test';
    const { handler } = (await import(pathToFileURL(bundledCimd!.file).href)) as {
      handler: (event: unknown) => Promise<{ statusCode: number; body: string }>;
    };
    const event = (secret?: string) => ({
      httpMethod: 'GET',
      path: '/.well-known/mcp-client-metadata.json',
      headers: { Host: 'mcp.example.com', ...(secret ? { 'x-mcp-edge-origin-verify': secret } : {}) },
      requestContext: { domainName: 'mcp.example.com' },
    });
    const served = await handler(event('origin-secret-for-this-test'));
    expect(served.statusCode).toBe(200);
    expect(JSON.parse(served.body).client_id).toBe(
      'https://mcp.example.com/.well-known/mcp-client-metadata.json',
    );
    expect((await handler(event())).statusCode).toBe(403);
  });

  it('produces login, connect and callback bundles that start (top-level await, ESM) and answer without a network', async () => {
    expect(bundles.size, 'needs the synth above').toBe(3);
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      MCP_EDGE_ROUTES: bundledCimd!.routes,
      MCP_EDGE_ORIGIN_VERIFY: 'origin-secret-for-this-test',
      MCP_EDGE_TABLE: 'mcp-edge-test',
      MCP_EDGE_KMS_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000',
      MCP_EDGE_IDP: JSON.stringify({
        issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x',
        clientId: 'c',
      }),
    });
    type Handler = (
      event: unknown,
    ) => Promise<{ statusCode: number; body: string; multiValueHeaders?: Record<string, string[]> }>;
    const load = async (name: string) =>
      ((await import(pathToFileURL(bundles.get(name)!).href)) as { handler: Handler }).handler;
    const event = (method: string, path: string, headers: Record<string, string> = {}) => ({
      httpMethod: method,
      path,
      headers: {
        Host: 'mcp.example.com',
        'x-mcp-edge-origin-verify': 'origin-secret-for-this-test',
        ...headers,
      },
      requestContext: { domainName: 'mcp.example.com' },
    });
    // No session cookie: each answer comes before any DynamoDB, KMS or identity-provider call.
    const connections = await (await load('connect'))(
      event('GET', '/.pomerium/connections', { accept: 'application/json' }),
    );
    expect(connections.statusCode).toBe(401);
    expect(JSON.parse(connections.body).error).toBe('login_required');
    const callback = await (await load('callback'))(event('GET', '/.pomerium/oauth/callback'));
    expect(callback.statusCode).toBe(401);
    expect(callback.body).toContain('login_required');
    const login = await load('login');
    expect((await login(event('PUT', '/.pomerium/login'))).statusCode).toBe(405);
    expect(
      (await login({ ...event('GET', '/.pomerium/login'), headers: { Host: 'mcp.example.com' } })).statusCode,
    ).toBe(403);
  });

  it.skipIf(!hasCfnLint)(
    'writes templates cfn-lint accepts against the CloudFormation resource specification',
    () => {
      expect(synthesizedTemplates, 'needs the synth above').toHaveLength(2);
      // W3005 (a DependsOn that a GetAtt already implies) is how CDK wires every Lambda function to
      // its role; it is harmless and not ours to change. Everything else, warnings too, fails.
      const result = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--', ...synthesizedTemplates], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    },
  );

  it('refuses a local-only config with exit code 1 and the messages, without a stack trace', () => {
    const result = cdkSynth('test/fixtures/infra-local-only.config.json', join(out, 'refused'));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('infra-local-only.config.json cannot be deployed to AWS:');
    expect(result.stderr).toContain(
      'routes[0].allowPrivateNetwork: is for the local gateway only; remove it',
    );
    expect(result.stderr).toContain('routes[0].from: "https://localhost:8443" is not a public DNS name');
    expect(result.stderr).toContain('routes[0].to: must be an https URL when deployed');
    expect(result.stderr).toContain(
      'trustPolicy.allowPrivateNetwork: is for the local gateway only; remove it',
    );
    expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });
});
