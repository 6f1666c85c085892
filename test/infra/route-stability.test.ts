import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../../functions/core/config/schema.ts';
import { defaultCognitoDomainPrefix } from '../../lib/config-checks.ts';
import { routeConstructId } from '../../lib/route-id.ts';
import { readFixture, resourcesUnder, type Synthesized, synthesize } from './synth.ts';

const EXISTING = ['mcp.example.com', 'docs.mcp.example.com', 'tools.example.org'];
const ADDED = 'new.example.org';

const threeRoutes = readFixture('infra-three-routes.config.json');
/** The same routes without `idp`: the stack creates a Cognito user pool with a derived domain prefix. */
const { idp: _, ...threeRoutesDefaultIdp } = threeRoutes;

/** The config with a fourth route in the middle of the list: position must not matter either. */
function withAddedRoute(config: GatewayConfigInput): GatewayConfigInput {
  return {
    ...config,
    routes: [
      config.routes[0]!,
      {
        from: `https://${ADDED}`,
        to: 'https://new.upstream.example.net/mcp',
        hostedZone: { id: 'Z0EXAMPLEORG0002', name: 'example.org' },
      },
      ...config.routes.slice(1),
    ],
  };
}
const FOUR_ORIGINS = withAddedRoute(threeRoutes).routes.map((r) => r.from);

/** Each config is synthesized once per file, however many tests use it. */
const synthesized = new Map<string, Synthesized>();
function synth(key: string, config: GatewayConfigInput): Synthesized {
  let s = synthesized.get(key);
  if (!s) {
    s = synthesize(config);
    synthesized.set(key, s);
  }
  return s;
}

type Resources = Record<string, { Type: string }>;
const resourcesOf = (t: Template): Resources => t.toJSON().Resources as Resources;
const isRouteResource = (id: string) => id.startsWith('Route');

describe.each([
  {
    idp: 'an external OIDC issuer',
    config: threeRoutes,
    // The route table in the functions' environment and the vault's KMS condition.
    routeListing: ['AWS::IAM::Policy', 'AWS::Lambda::Function'],
  },
  {
    idp: 'the default Cognito user pool',
    config: threeRoutesDefaultIdp,
    // … and the app client's callback and sign-out URLs.
    routeListing: ['AWS::Cognito::UserPoolClient', 'AWS::IAM::Policy', 'AWS::Lambda::Function'],
  },
])('adding a route, with $idp', ({ idp, config, routeListing }) => {
  let before: Synthesized;
  let after: Synthesized;
  beforeAll(() => {
    before = synth(idp, config);
    after = synth(`${idp} + 1`, withAddedRoute(config));
  });

  it.each(EXISTING)('leaves every resource of %s unchanged: same logical IDs, same properties', (host) => {
    const prefix = routeConstructId(host);
    for (const pick of ['certificatesTemplate', 'gatewayTemplate'] as const) {
      const was = resourcesUnder(before[pick], prefix);
      expect(Object.keys(was).length).toBeGreaterThan(0);
      expect(resourcesUnder(after[pick], prefix)).toEqual(was);
    }
  });

  it('adds exactly one certificate in us-east-1 (and its output) for the new host', () => {
    const added = Object.keys(resourcesOf(after.certificatesTemplate)).filter(
      (id) => !(id in resourcesOf(before.certificatesTemplate)),
    );
    expect(added.map((id) => resourcesOf(after.certificatesTemplate)[id]!.Type)).toEqual([
      'AWS::CertificateManager::Certificate',
    ]);
    expect(added[0]!.startsWith(routeConstructId(ADDED))).toBe(true);
    const outputs = (t: Template) => Object.keys(t.toJSON().Outputs ?? {});
    expect(
      outputs(after.certificatesTemplate).filter((o) => !outputs(before.certificatesTemplate).includes(o)),
    ).toHaveLength(1);
  });

  it('adds exactly the per-route resources to the gateway stack, all under the new host’s ID', () => {
    const was = resourcesOf(before.gatewayTemplate);
    const now = resourcesOf(after.gatewayTemplate);
    const added = Object.keys(now).filter((id) => !(id in was));
    expect(added.every((id) => id.startsWith(routeConstructId(ADDED)))).toBe(true);
    expect(added.map((id) => now[id]!.Type).sort()).toEqual(
      [
        'AWS::ApiGateway::BasePathMapping',
        'AWS::ApiGateway::DomainName',
        'AWS::CertificateManager::Certificate',
        'AWS::CloudFront::Distribution',
        'AWS::Route53::RecordSet',
        'AWS::Route53::RecordSet',
      ].sort(),
    );
  });

  it('removes nothing and renames no shared resource', () => {
    for (const pick of ['certificatesTemplate', 'gatewayTemplate'] as const) {
      const was = Object.keys(resourcesOf(before[pick]));
      const now = Object.keys(resourcesOf(after[pick]));
      expect(was.filter((id) => !now.includes(id))).toEqual([]);
      expect(now.filter((id) => !isRouteResource(id)).sort()).toEqual(
        was.filter((id) => !isRouteResource(id)).sort(),
      );
    }
  });

  it('changes shared resources only where they list the routes', () => {
    const was = resourcesOf(before.gatewayTemplate);
    const now = resourcesOf(after.gatewayTemplate);
    const changed = Object.keys(was).filter(
      (id) => !isRouteResource(id) && JSON.stringify(was[id]) !== JSON.stringify(now[id]),
    );
    expect([...new Set(changed.map((id) => now[id]!.Type))].sort()).toEqual(routeListing);
    for (const id of changed) {
      expect(withoutRouteLists(now[id]), `${id} changed beyond its route list`).toEqual(
        withoutRouteLists(was[id]),
      );
    }
    const lists = changed.map((id) => [now[id]!.Type, routeListsOf(now[id])] as const);
    for (const [type, list] of lists) {
      if (type === 'AWS::Lambda::Function') expect(list.routes).toEqual(FOUR_ORIGINS);
      if (type === 'AWS::IAM::Policy') expect(list.kmsRoutes).toEqual(FOUR_ORIGINS);
      if (type === 'AWS::Cognito::UserPoolClient') {
        expect(list.callbacks).toEqual(FOUR_ORIGINS.map((o) => `${o}/.pomerium/login/callback`));
        expect(list.logouts).toEqual(FOUR_ORIGINS.map((o) => `${o}/.pomerium/logout`));
      }
    }
  });
});

describe('the default Cognito user pool across route changes', () => {
  it('keeps its pool and its domain, whose prefix comes from the account and region alone', () => {
    const before = synth('the default Cognito user pool', threeRoutesDefaultIdp);
    const after = synth('the default Cognito user pool + 1', withAddedRoute(threeRoutesDefaultIdp));
    const prefix = defaultCognitoDomainPrefix('111122223333', 'eu-central-1');
    for (const s of [before, after]) {
      s.gatewayTemplate.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: prefix });
    }
    for (const type of ['AWS::Cognito::UserPool', 'AWS::Cognito::UserPoolDomain']) {
      expect(after.gatewayTemplate.findResources(type), type).toEqual(
        before.gatewayTemplate.findResources(type),
      );
    }
  });
});

/** The places shared resources list the routes: as origins, or as login callback and sign-out URLs. */
function routeListsOf(resource: unknown): {
  routes?: string[];
  kmsRoutes?: string[];
  callbacks?: string[];
  logouts?: string[];
} {
  const r = resource as {
    Properties: {
      CallbackURLs?: string[];
      LogoutURLs?: string[];
      Environment?: { Variables: { MCP_EDGE_ROUTES?: string } };
      PolicyDocument?: { Statement: { Condition?: { StringEquals?: Record<string, string[]> } }[] };
    };
  };
  const env = r.Properties.Environment?.Variables.MCP_EDGE_ROUTES;
  const kms = r.Properties.PolicyDocument?.Statement.map(
    (st) => st.Condition?.StringEquals?.['kms:EncryptionContext:route'],
  ).find(Boolean);
  return {
    ...(env ? { routes: (JSON.parse(env) as { from: string }[]).map((x) => x.from) } : {}),
    ...(kms ? { kmsRoutes: kms } : {}),
    ...(r.Properties.CallbackURLs ? { callbacks: r.Properties.CallbackURLs } : {}),
    ...(r.Properties.LogoutURLs ? { logouts: r.Properties.LogoutURLs } : {}),
  };
}

/** A copy of a resource with its route lists blanked out. */
function withoutRouteLists(resource: unknown): unknown {
  const copy = structuredClone(resource) as {
    Properties: {
      CallbackURLs?: unknown;
      LogoutURLs?: unknown;
      Environment?: { Variables: Record<string, unknown> };
      PolicyDocument?: { Statement: { Condition?: { StringEquals?: Record<string, unknown> } }[] };
    };
  };
  if (copy.Properties.Environment) copy.Properties.Environment.Variables.MCP_EDGE_ROUTES = '<routes>';
  if (copy.Properties.CallbackURLs) copy.Properties.CallbackURLs = '<routes>';
  if (copy.Properties.LogoutURLs) copy.Properties.LogoutURLs = '<routes>';
  for (const statement of copy.Properties.PolicyDocument?.Statement ?? []) {
    if (statement.Condition?.StringEquals?.['kms:EncryptionContext:route']) {
      statement.Condition.StringEquals['kms:EncryptionContext:route'] = '<routes>';
    }
  }
  return copy;
}

describe('removing a route', () => {
  const original = () => synth('an external OIDC issuer', threeRoutes);

  it('leaves the other routes’ resources unchanged', () => {
    const [first, ...rest] = threeRoutes.routes;
    const removed = synthesize({ ...threeRoutes, routes: rest });
    for (const host of EXISTING.slice(1)) {
      const prefix = routeConstructId(host);
      expect(resourcesUnder(removed.gatewayTemplate, prefix)).toEqual(
        resourcesUnder(original().gatewayTemplate, prefix),
      );
      expect(resourcesUnder(removed.certificatesTemplate, prefix)).toEqual(
        resourcesUnder(original().certificatesTemplate, prefix),
      );
    }
    expect(resourcesUnder(removed.gatewayTemplate, routeConstructId(new URL(first!.from).hostname))).toEqual(
      {},
    );
  });

  it('keeps the removed host’s us-east-1 certificate (its distribution may still use it while the stacks update)', () => {
    original().certificatesTemplate.hasResource('AWS::CertificateManager::Certificate', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });
});

describe('origin secret generation', () => {
  it('replaces the secret and re-points every distribution and function at it when bumped', () => {
    const bumped = synthesize(threeRoutes, { originSecretGeneration: 1 });
    const secretIds = (s: Synthesized) =>
      Object.keys(s.gatewayTemplate.findResources('AWS::SecretsManager::Secret')).filter((id) =>
        id.startsWith('OriginVerify'),
      );
    const [oldId] = secretIds(synth('an external OIDC issuer', threeRoutes));
    const [newId] = secretIds(bumped);
    expect(newId).not.toBe(oldId);
    const json = JSON.stringify(bumped.gatewayTemplate.toJSON());
    expect(json).not.toContain(`"Ref":"${oldId}"`);
    // One reference per distribution (origin header) and one per function (environment).
    const count = (type: string) => Object.keys(bumped.gatewayTemplate.findResources(type)).length;
    expect(json.split(`{"Ref":"${newId}"}`).length - 1).toBe(
      count('AWS::CloudFront::Distribution') + count('AWS::Lambda::Function'),
    );
  });
});
