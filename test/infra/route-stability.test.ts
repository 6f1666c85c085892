import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { routeConstructId } from '../../lib/route-id.ts';
import { readFixture, resourcesUnder, type Synthesized, synthesize } from './synth.ts';

const EXISTING = ['mcp.example.com', 'docs.mcp.example.com', 'tools.example.org'];
const ADDED = 'new.example.org';

const threeRoutes = readFixture('infra-three-routes.config.json');
// The fourth route goes in the middle of the list: position must not matter either.
const fourRoutes = {
  ...threeRoutes,
  routes: [
    threeRoutes.routes[0]!,
    {
      from: `https://${ADDED}`,
      to: 'https://new.upstream.example.net/mcp',
      hostedZone: { id: 'Z0EXAMPLEORG0002', name: 'example.org' },
    },
    ...threeRoutes.routes.slice(1),
  ],
};

let before: Synthesized;
let after: Synthesized;
beforeAll(() => {
  before = synthesize(threeRoutes);
  after = synthesize(fourRoutes);
});

type Resources = Record<string, { Type: string }>;
const resourcesOf = (t: Template): Resources => t.toJSON().Resources as Resources;
const isRouteResource = (id: string) => id.startsWith('Route');

describe('adding a route', () => {
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

  it('changes shared resources only where they list the routes: route table and vault KMS condition', () => {
    const was = resourcesOf(before.gatewayTemplate);
    const now = resourcesOf(after.gatewayTemplate);
    const changed = Object.keys(was).filter(
      (id) => !isRouteResource(id) && JSON.stringify(was[id]) !== JSON.stringify(now[id]),
    );
    expect([...new Set(changed.map((id) => now[id]!.Type))].sort()).toEqual([
      'AWS::IAM::Policy',
      'AWS::Lambda::Function',
    ]);
    for (const id of changed) {
      expect(withoutRouteLists(now[id]), `${id} changed beyond its route list`).toEqual(
        withoutRouteLists(was[id]),
      );
    }
    const fourOrigins = fourRoutes.routes.map((r) => r.from);
    for (const id of changed.filter((i) => now[i]!.Type === 'AWS::Lambda::Function')) {
      expect(routeListsOf(now[id]).routes).toEqual(fourOrigins);
    }
    for (const id of changed.filter((i) => now[i]!.Type === 'AWS::IAM::Policy')) {
      expect(routeListsOf(now[id]).kmsRoutes).toEqual(fourOrigins);
    }
  });
});

/** The two places shared resources list the routes, as origins. */
function routeListsOf(resource: unknown): { routes?: string[]; kmsRoutes?: string[] } {
  const r = resource as {
    Properties: {
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
  };
}

/** A copy of a resource with its route lists blanked out. */
function withoutRouteLists(resource: unknown): unknown {
  const copy = structuredClone(resource) as {
    Properties: {
      Environment?: { Variables: Record<string, unknown> };
      PolicyDocument?: { Statement: { Condition?: { StringEquals?: Record<string, unknown> } }[] };
    };
  };
  if (copy.Properties.Environment) copy.Properties.Environment.Variables.MCP_EDGE_ROUTES = '<routes>';
  for (const statement of copy.Properties.PolicyDocument?.Statement ?? []) {
    if (statement.Condition?.StringEquals?.['kms:EncryptionContext:route']) {
      statement.Condition.StringEquals['kms:EncryptionContext:route'] = '<routes>';
    }
  }
  return copy;
}

describe('removing a route', () => {
  it('leaves the other routes’ resources unchanged', () => {
    const [first, ...rest] = threeRoutes.routes;
    const removed = synthesize({ ...threeRoutes, routes: rest });
    for (const host of EXISTING.slice(1)) {
      const prefix = routeConstructId(host);
      expect(resourcesUnder(removed.gatewayTemplate, prefix)).toEqual(
        resourcesUnder(before.gatewayTemplate, prefix),
      );
      expect(resourcesUnder(removed.certificatesTemplate, prefix)).toEqual(
        resourcesUnder(before.certificatesTemplate, prefix),
      );
    }
    expect(resourcesUnder(removed.gatewayTemplate, routeConstructId(new URL(first!.from).hostname))).toEqual(
      {},
    );
  });

  it('keeps the removed host’s us-east-1 certificate (its distribution may still use it while the stacks update)', () => {
    before.certificatesTemplate.hasResource('AWS::CertificateManager::Certificate', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });
});

describe('origin secret generation', () => {
  it('replaces the secret and re-points every distribution and function at it when bumped', () => {
    const bumped = synthesize(threeRoutes, { originSecretGeneration: 1 });
    const secretIds = (s: Synthesized) =>
      Object.keys(s.gatewayTemplate.findResources('AWS::SecretsManager::Secret'));
    const [oldId] = secretIds(before);
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
