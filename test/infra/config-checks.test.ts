import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/parse.ts';
import type { GatewayConfigInput, RouteConfig } from '../../functions/core/config/schema.ts';
import {
  authorizationEnvironmentValue,
  CONFIG_ENVIRONMENT_BUDGET_BYTES,
  checkDeployConfig,
  type DeployCheckEnv,
  type DeployProblem,
  defaultCognitoDomainPrefix,
  formatProblems,
  isInZone,
  routesEnvironmentValue,
} from '../../lib/config-checks.ts';
import { loadDeployment } from '../../lib/load-deployment.ts';
import { FIXTURES, readFixture } from './synth.ts';

const base = {
  aws: { account: '111122223333', region: 'eu-central-1' },
  hostedZone: { id: 'Z0EXAMPLECOM0001', name: 'example.com' },
} as const;
const route = { from: 'https://mcp.example.com', to: 'https://api.upstream.example.net/mcp' };

function check(input: GatewayConfigInput, env: DeployCheckEnv = {}) {
  const parsed = parseConfig(input);
  if (!parsed.ok) throw new Error(`fixture is not schema-valid: ${parsed.errors.join('; ')}`);
  return checkDeployConfig(parsed.config, env);
}

function problemsOf(input: GatewayConfigInput, env: DeployCheckEnv = {}): DeployProblem[] {
  const result = check(input, env);
  if (result.ok) throw new Error('expected the config to be refused');
  return result.problems;
}

const codesAt = (problems: DeployProblem[]) => problems.map((p) => [p.path, p.code]);

/** Routes whose `MCP_EDGE_ROUTES` JSON is exactly `bytes` long: as many as fit, the last `to` padded. */
function routesOfSize(bytes: number) {
  const routeNumber = (i: number) => ({
    from: `https://route-${i}.example.com`,
    to: `https://upstream-${i}.example.net/mcp`,
    name: `Route ${i}`,
  });
  const size = (routes: RouteConfig[]) => Buffer.byteLength(routesEnvironmentValue(routes));
  const routes = [routeNumber(0)];
  while (size([...routes, routeNumber(routes.length)]) <= bytes) routes.push(routeNumber(routes.length));
  routes.at(-1)!.to += 'p'.repeat(bytes - size(routes));
  return routes;
}

describe('checkDeployConfig', () => {
  it('accepts the three-route fixture and gives each route its own zone or the default one', () => {
    const result = check(readFixture('infra-three-routes.config.json'));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.deployment.account).toBe('111122223333');
    expect(result.deployment.region).toBe('eu-central-1');
    expect(result.deployment.routes.map((r) => [r.host, r.zone.name, r.zone.id])).toEqual([
      ['mcp.example.com', 'example.com', 'Z0EXAMPLECOM0001'],
      ['docs.mcp.example.com', 'example.com', 'Z0EXAMPLECOM0001'],
      ['tools.example.org', 'example.org', 'Z0EXAMPLEORG0002'],
    ]);
  });

  it('needs aws.region, and aws.account unless the CLI supplies a default account', () => {
    expect(codesAt(problemsOf({ hostedZone: base.hostedZone, routes: [route] }))).toEqual([
      ['aws.region', 'missing_region'],
      ['aws.account', 'missing_account'],
    ]);
    const withDefault = check(
      { hostedZone: base.hostedZone, aws: { region: 'eu-central-1' }, routes: [route] },
      { defaultAccount: '444455556666' },
    );
    expect(withDefault.ok && withDefault.deployment.account).toBe('444455556666');
  });

  it('refuses the local demo settings, naming each key and what to do instead', () => {
    const problems = problemsOf({
      ...base,
      routes: [
        {
          from: 'https://localhost:8443',
          to: 'http://127.0.0.1:9400/mcp',
          allowInsecureUpstream: true,
          allowPrivateNetwork: true,
        },
      ],
    });
    expect(codesAt(problems)).toEqual([
      ['routes[0].allowPrivateNetwork', 'local_only_setting'],
      ['routes[0].allowInsecureUpstream', 'local_only_setting'],
      ['routes[0].from', 'local_origin'],
      ['routes[0].to', 'insecure_upstream'],
      ['routes[0].to', 'private_upstream'],
    ]);
    const lines = formatProblems(problems);
    expect(lines[0]).toMatch(/^routes\[0\]\.allowPrivateNetwork: .*local gateway only; remove it/);
    expect(lines[2]).toMatch(
      /^routes\[0\]\.from: "https:\/\/localhost:8443" is not a public DNS name.*Route 53/,
    );
    expect(lines[3]).toMatch(/^routes\[0\]\.to: must be an https URL/);
  });

  it.each([
    ['https://127.0.0.1', 'local_origin'],
    ['https://[::1]', 'local_origin'],
    ['https://203.0.113.7', 'local_origin'],
    ['https://mcp.example.com:8443', 'origin_port'],
  ])('refuses from=%s (%s)', (from, code) => {
    const problems = problemsOf({ ...base, routes: [{ ...route, from }] });
    expect(problems.map((p) => [p.path, p.code])).toContainEqual(['routes[0].from', code]);
  });

  it('says how to drop a non-default port', () => {
    const [problem] = problemsOf({ ...base, routes: [{ ...route, from: 'https://mcp.example.com:8443' }] });
    expect(problem!.message).toContain('use "https://mcp.example.com"');
  });

  it.each([
    'https://localhost/mcp',
    'https://10.0.0.5/mcp',
    'https://192.168.1.2/mcp',
    'https://169.254.169.254/latest',
    'https://[::ffff:127.0.0.1]/mcp',
  ])('refuses an upstream on a loopback or private address: %s', (to) => {
    expect(codesAt(problemsOf({ ...base, routes: [{ ...route, to }] }))).toEqual([
      ['routes[0].to', 'private_upstream'],
    ]);
  });

  it('refuses a route host outside its hosted zone and says which zone it is not in', () => {
    const problems = problemsOf(readFixture('infra-outside-zone.config.json'));
    expect(codesAt(problems)).toEqual([['routes[1].from', 'host_outside_zone']]);
    expect(formatProblems(problems)[0]).toBe(
      'routes[1].from: mcp.other.org is not inside the hosted zone "example.com" (Z0EXAMPLECOM0001); use a host ending in ".example.com" or give this route its own `hostedZone`',
    );
  });

  it("points at the route's own hostedZone when that is the zone the host is outside of", () => {
    const problems = problemsOf({
      ...base,
      routes: [{ ...route, hostedZone: { id: 'Z0EXAMPLEORG0002', name: 'example.org' } }],
    });
    expect(codesAt(problems)).toEqual([['routes[0].hostedZone.name', 'host_outside_zone']]);
  });

  it('needs a hosted zone for every route', () => {
    const { hostedZone: _, ...noZone } = base;
    const problems = problemsOf({ ...noZone, routes: [route] });
    expect(codesAt(problems)).toEqual([['routes[0].hostedZone', 'missing_hosted_zone']]);
    expect(problems[0]!.message).toContain('add a top-level `hostedZone: { id, name }` or one on this route');
  });

  it('refuses client secrets read from environment variables (route and identity provider)', () => {
    const problems = problemsOf({
      ...base,
      routes: [
        {
          ...route,
          upstream: {
            clientId: 'c',
            clientSecret: { env: 'UPSTREAM_SECRET' },
            authorizationServer: 'https://as.example.com',
          },
        },
      ],
      idp: { issuer: 'https://idp.example.com', clientId: 'edge', clientSecret: { env: 'IDP_SECRET' } },
    });
    expect(codesAt(problems)).toEqual([
      ['routes[0].upstream.clientSecret.env', 'local_secret'],
      ['idp.clientSecret.env', 'local_secret'],
    ]);
    expect(problems[0]!.message).toContain('secretArn');
  });

  it('refuses partial secret ARNs: the functions are granted exactly the ARN given', () => {
    const problems = problemsOf({
      ...base,
      routes: [
        {
          ...route,
          upstream: {
            clientId: 'c',
            authorizationServer: 'https://as.example.com',
            clientSecret: { secretArn: 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools' },
          },
        },
      ],
    });
    expect(codesAt(problems)).toEqual([['routes[0].upstream.clientSecret.secretArn', 'partial_secret_arn']]);
    expect(problems[0]!.message).toContain('six characters');
  });

  it('creates a Cognito user pool when the config names no identity provider, with a derived domain prefix', () => {
    const result = check({ ...base, routes: [route] });
    expect(result.ok && result.deployment.idp).toEqual({
      kind: 'cognito',
      domainPrefix: defaultCognitoDomainPrefix('111122223333', 'eu-central-1'),
    });
  });

  it('derives a stable, valid domain prefix from the account and region alone', () => {
    const prefix = defaultCognitoDomainPrefix('111122223333', 'eu-central-1');
    expect(prefix).toMatch(/^mcp-edge-[0-9a-f]{12}$/);
    expect(prefix).not.toMatch(/aws|amazon|cognito/);
    expect(defaultCognitoDomainPrefix('111122223333', 'eu-central-1')).toBe(prefix);
    expect(defaultCognitoDomainPrefix('111122223333', 'eu-west-1')).not.toBe(prefix);
    expect(defaultCognitoDomainPrefix('444455556666', 'eu-central-1')).not.toBe(prefix);
    const parsed = parseConfig({ ...base, routes: [route], idp: { cognito: { domainPrefix: prefix } } });
    expect(parsed.ok).toBe(true);
  });

  it('uses the configured Cognito domain prefix', () => {
    const result = check({ ...base, routes: [route], idp: { cognito: { domainPrefix: 'example-mcp' } } });
    expect(result.ok && result.deployment.idp).toEqual({
      kind: 'cognito',
      domainPrefix: 'example-mcp',
    });
  });

  it.each(['aws-mcp', 'my-amazon-edge', 'cognito-login', 'laws-firm'])(
    'refuses the domain prefix %s, which holds a word Cognito reserves',
    (domainPrefix) => {
      const problems = problemsOf({ ...base, routes: [route], idp: { cognito: { domainPrefix } } });
      expect(codesAt(problems)).toEqual([['idp.cognito.domainPrefix', 'reserved_domain_prefix']]);
      expect(problems[0]!.message).toContain('choose another prefix');
    },
  );

  it('collects the external identity provider and the upstream secret ARNs the functions may read', () => {
    const result = check(readFixture('infra-three-routes.config.json'));
    expect(result.ok && result.deployment.idp).toEqual({
      kind: 'oidc',
      settings: {
        issuer: 'https://login.example.com',
        clientId: 'mcp-edge',
        clientSecretArn: 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:idp-QwErTy',
      },
    });
    expect(result.ok && result.deployment.upstreamSecretArns).toEqual([
      'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools-AbCdEf',
    ]);
  });

  it('accepts an external issuer without a client secret (a public client; sign-in always uses PKCE)', () => {
    const result = check({
      ...base,
      routes: [route],
      idp: { issuer: 'https://login.example.com', clientId: 'mcp-edge' },
    });
    expect(result.ok && result.deployment.idp).toEqual({
      kind: 'oidc',
      settings: { issuer: 'https://login.example.com', clientId: 'mcp-edge' },
    });
  });

  it('refuses an identity provider secret from an environment variable, saying where it goes instead', () => {
    const problems = problemsOf({
      ...base,
      routes: [route],
      idp: { issuer: 'https://login.example.com', clientId: 'mcp-edge', clientSecret: { env: 'IDP_SECRET' } },
    });
    expect(codesAt(problems)).toEqual([['idp.clientSecret.env', 'local_secret']]);
    expect(formatProblems(problems)[0]).toMatch(
      /^idp\.clientSecret\.env: environment variables are read by the local gateway only; store the secret in Secrets Manager and use `clientSecret: \{ secretArn:/,
    );
  });

  it('reserves room in the functions’ environment for the user pool’s issuer and client ID', () => {
    const smallIdp = { issuer: 'https://id.example.com', clientId: 'c' };
    const routes = routesOfSize(CONFIG_ENVIRONMENT_BUDGET_BYTES - 120);
    expect(check({ ...base, routes, idp: smallIdp }).ok).toBe(true);
    expect(codesAt(problemsOf({ ...base, routes }))).toEqual([['routes', 'routes_too_large']]);
  });

  it('refuses a route table too large for the functions’ 4 KiB environment', () => {
    const routes = Array.from({ length: 30 }, (_, i) => ({
      from: `https://route-${i}.example.com`,
      to: `https://upstream-${i}.example.net/some/long/path/to/the/mcp/endpoint`,
      name: `Route number ${i} with a descriptive name`,
    }));
    expect(codesAt(problemsOf({ ...base, routes }))).toEqual([['routes', 'routes_too_large']]);
  });
});

describe('authorization server settings', () => {
  const VSCODE = 'https://vscode.dev/oauth/client-metadata.json';
  /** A pinned client document that passes the CIMD rules, about `bytes` long as JSON. */
  const pinnedDocument = (clientId: string, bytes = 200) => ({
    client_id: clientId,
    client_name: 'Pinned client',
    redirect_uris: ['https://client.example.net/callback'],
    description: 'd'.repeat(Math.max(0, bytes - 120 - clientId.length)),
  });

  it('refuses trustPolicy.allowPrivateNetwork as a local-only setting', () => {
    const problems = problemsOf({ ...base, routes: [route], trustPolicy: { allowPrivateNetwork: true } });
    expect(codesAt(problems)).toEqual([['trustPolicy.allowPrivateNetwork', 'local_only_setting']]);
    expect(formatProblems(problems)[0]).toMatch(
      /^trustPolicy\.allowPrivateNetwork: is for the local gateway only; remove it/,
    );
    expect(check({ ...base, routes: [route], trustPolicy: { allowPrivateNetwork: false } }).ok).toBe(true);
  });

  it('accepts pre-registered clients with loopback http redirect URIs (native clients, RFC 8252)', () => {
    const mcpClients = [
      { clientId: 'cli', name: 'A CLI', redirectUris: ['http://127.0.0.1/callback', 'http://localhost/cb'] },
    ];
    const result = check({ ...base, routes: [route], mcpClients });
    expect(result.ok).toBe(true);
    expect(result.ok && result.deployment.authorization).toEqual({ mcpClients });
  });

  it('carries trustPolicy, mcpClients and tokens to the deployment as configured', () => {
    const trustPolicy = {
      trustedDomains: ['vscode.dev', '*.example.com'],
      blockedDomains: ['evil.example.org'],
      autoApproveTrusted: true,
      allowUnlisted: false,
      allowDynamicRegistration: false,
      pinnedClients: { [VSCODE]: pinnedDocument(VSCODE) },
    };
    const mcpClients = [
      { clientId: 'internal', name: 'Internal', redirectUris: ['https://app.example.com/cb'] },
    ];
    const tokens = { accessTokenTtlSeconds: 300, refreshTokenTtlDays: 30 };
    const result = check({ ...base, routes: [route], trustPolicy, mcpClients, tokens });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(JSON.parse(authorizationEnvironmentValue(result.deployment.authorization))).toEqual({
      trustPolicy,
      mcpClients,
      tokens,
    });
  });

  it('writes MCP_EDGE_AUTHORIZATION with only the configured keys, and {} without any', () => {
    expect(authorizationEnvironmentValue({})).toBe('{}');
    expect(authorizationEnvironmentValue({ tokens: { accessTokenTtlSeconds: 120 } })).toBe(
      '{"tokens":{"accessTokenTtlSeconds":120}}',
    );
    const result = check({ ...base, routes: [route] });
    expect(result.ok && authorizationEnvironmentValue(result.deployment.authorization)).toBe('{}');
  });

  it('refuses authorization settings that do not fit the authorization function’s environment with the routes, naming pinnedClients', () => {
    const pinnedClients = Object.fromEntries(
      Array.from({ length: 12 }, (_, i) => {
        const id = `https://client-${i}.example.net/oauth/client-metadata.json`;
        return [id, pinnedDocument(id, 400)];
      }),
    );
    const problems = problemsOf({ ...base, routes: [route], trustPolicy: { pinnedClients } });
    expect(codesAt(problems)).toEqual([['trustPolicy.pinnedClients', 'authorization_settings_too_large']]);
    expect(problems[0]!.message).toMatch(/trustPolicy\.pinnedClients \d+, mcpClients 0/);
    expect(problems[0]!.message).toMatch(/pin fewer clients in trustPolicy\.pinnedClients/);
  });

  it('counts the route table and the authorization settings together against one budget', () => {
    const pinned = { [VSCODE]: pinnedDocument(VSCODE, 600) };
    const settingsBytes = Buffer.byteLength(
      authorizationEnvironmentValue({ trustPolicy: { pinnedClients: pinned } }),
    );
    const idp = { issuer: 'https://id.example.com', clientId: 'c' };
    const fits = routesOfSize(CONFIG_ENVIRONMENT_BUDGET_BYTES - settingsBytes);
    expect(check({ ...base, idp, routes: fits, trustPolicy: { pinnedClients: pinned } }).ok).toBe(true);
    const over = routesOfSize(CONFIG_ENVIRONMENT_BUDGET_BYTES - settingsBytes + 1);
    expect(
      codesAt(problemsOf({ ...base, idp, routes: over, trustPolicy: { pinnedClients: pinned } })),
    ).toEqual([['trustPolicy.pinnedClients', 'authorization_settings_too_large']]);
  });

  it('names mcpClients when the pre-registered clients are the big part', () => {
    const mcpClients = Array.from({ length: 40 }, (_, i) => ({
      clientId: `client-${i}`,
      name: `Pre-registered client number ${i}`,
      redirectUris: [`https://client-${i}.example.net/oauth/callback`],
    }));
    expect(codesAt(problemsOf({ ...base, routes: [route], mcpClients }))).toEqual([
      ['mcpClients', 'authorization_settings_too_large'],
    ]);
  });
});

describe('isInZone', () => {
  it.each([
    ['mcp.example.com', 'example.com', true],
    ['a.b.example.com', 'example.com', true],
    ['example.com', 'example.com', true],
    ['MCP.Example.com', 'example.com.', true],
    ['mcp.other.org', 'example.com', false],
    ['badexample.com', 'example.com', false],
    ['example.com.evil.org', 'example.com', false],
  ])('%s in %s: %s', (host, zone, inside) => {
    expect(isInZone(host, zone)).toBe(inside);
  });
});

describe('loadDeployment', () => {
  it('passes the schema’s message through for an http origin, with the key path', async () => {
    const file = resolve(FIXTURES, 'infra-http-origin.config.json');
    const result = await loadDeployment(file);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain('is not a valid MCP Edge config');
    expect(result.message).toContain(
      'routes[0].from: must be an https origin without a path; only https is served, got "http://mcp.example.com"',
    );
  });

  it('names the file and lists every deployment problem, one per line', async () => {
    const file = resolve(FIXTURES, 'infra-local-only.config.json');
    const result = await loadDeployment(file);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const [head, ...lines] = result.message.split('\n');
    expect(head).toBe(`${file} cannot be deployed to AWS:`);
    expect(lines.map((l) => l.trim().split(':')[0])).toEqual([
      'routes[0].allowPrivateNetwork',
      'routes[0].allowInsecureUpstream',
      'routes[0].from',
      'routes[0].to',
      'routes[0].to',
      'trustPolicy.allowPrivateNetwork',
    ]);
  });

  it('loads the shipped gateway.config.ts', async () => {
    const result = await loadDeployment(resolve(FIXTURES, '../../gateway.config.ts'));
    expect(result.ok).toBe(true);
  });
});
