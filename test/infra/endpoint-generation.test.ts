import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../../functions/core/config/schema.ts';
import { ENDPOINTS, expandEndpoints } from '../../functions/core/endpoints.ts';
import { unacknowledgedFindings } from './nag.ts';
import { REPO_ROOT, type Synthesized, synthesize } from './synth.ts';

/**
 * Routes whose MCP endpoints sit at different paths: the default (the path of `to`, twice, so it
 * is created once), an explicit `path`, and the origin's root. Every handler is a stub written to
 * a temporary folder, so this file tests the generation alone, whatever the functions contain.
 */
const CONFIG: GatewayConfigInput = {
  aws: { account: '111122223333', region: 'eu-central-1' },
  hostedZone: { id: 'Z0EXAMPLECOM0001', name: 'example.com' },
  routes: [
    { from: 'https://mcp.example.com', to: 'https://api.upstream.example.net/mcp' },
    { from: 'https://docs.example.com', to: 'https://docs.upstream.example.org/mcp' },
    {
      from: 'https://tools.example.com',
      to: 'https://tools.upstream.example.net/api/mcp',
      path: '/tools/v1',
    },
    { from: 'https://root.example.com', to: 'https://root.upstream.example.net/' },
  ],
  idp: { issuer: 'https://login.example.com', clientId: 'mcp-edge' },
};
const MCP_PATHS = ['/mcp', '/tools/v1', '/'];
const EXPANDED = expandEndpoints(MCP_PATHS);
const NAMES = [...new Set(ENDPOINTS.map((e) => e.function))];

// NodejsFunction wants entries under the project root: a scratch folder in the git-ignored .local/.
mkdirSync(join(REPO_ROOT, '.local'), { recursive: true });
const functionsDir = mkdtempSync(join(REPO_ROOT, '.local', 'infra-stubs-'));
afterAll(() => rmSync(functionsDir, { recursive: true, force: true }));

let s: Synthesized;
beforeAll(() => {
  for (const name of NAMES) {
    mkdirSync(join(functionsDir, name));
    writeFileSync(
      join(functionsDir, name, 'handler.ts'),
      'export const handler = async () => ({ statusCode: 204 });\n',
    );
  }
  s = synthesize(CONFIG, { functionsDir });
});

type Props = Record<string, unknown>;
function functionNamed(name: string): { id: string; properties: Props } {
  const found = Object.entries(
    s.gatewayTemplate.findResources('AWS::Lambda::Function', {
      Properties: { Description: `MCP Edge: ${name}` },
    }),
  );
  expect(found, name).toHaveLength(1);
  const [id, resource] = found[0]!;
  return { id, properties: (resource as { Properties: Props }).Properties };
}

/** Every API Gateway method as (full resource path, HTTP method, integration). */
function apiMethods(template: Template): { path: string; httpMethod: string; integration: Props }[] {
  const resources = template.findResources('AWS::ApiGateway::Resource') as Record<
    string,
    { Properties: { ParentId: { Ref?: string }; PathPart: string } }
  >;
  // A resource's parent is another resource (Ref) or the API's root (Fn::GetAtt RootResourceId).
  const pathOf = (ref: { Ref?: string }): string => {
    if (!ref.Ref) return '';
    const { ParentId, PathPart } = resources[ref.Ref]!.Properties;
    return `${pathOf(ParentId)}/${PathPart}`;
  };
  return Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => {
    const p = (m as { Properties: { ResourceId: { Ref?: string }; HttpMethod: string; Integration: Props } })
      .Properties;
    return { path: pathOf(p.ResourceId) || '/', httpMethod: p.HttpMethod, integration: p.Integration };
  });
}

const methodsOf = (name: string) => {
  const { id } = functionNamed(name);
  return apiMethods(s.gatewayTemplate).filter((m) => JSON.stringify(m.integration).includes(`"${id}"`));
};

describe('generation from the endpoint table', () => {
  it('creates one function per function name, however many rows name it', () => {
    expect(Object.keys(s.gatewayTemplate.findResources('AWS::Lambda::Function'))).toHaveLength(NAMES.length);
    expect(NAMES).toEqual(['cimd', 'callback', 'login', 'connect', 'authorization', 'proxy']);
  });

  it('creates one method per path and listed method (plus ANY), each integrated with its own function', () => {
    for (const name of NAMES) {
      const expected = EXPANDED.filter((e) => e.endpoint.function === name).flatMap((e) =>
        [...e.endpoint.methods, 'ANY'].map((m) => `${m} ${e.path}`),
      );
      expect(
        methodsOf(name).map((m) => `${m.httpMethod} ${m.path}`),
        name,
      ).toEqual(expected);
    }
  });

  it('serves each route’s MCP path and its protected resource metadata, each path once', () => {
    const paths = new Set(apiMethods(s.gatewayTemplate).map((m) => m.path));
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource/tools/v1',
      '/.well-known/oauth-authorization-server',
      '/.pomerium/mcp/authorize',
      '/.pomerium/mcp/token',
      '/.pomerium/mcp/register',
      '/.pomerium/mcp/revoke',
      '/mcp',
      '/tools/v1',
      '/',
    ]) {
      expect(paths.has(path), path).toBe(true);
    }
    // Two routes at /mcp share one resource; a resource path appears once.
    const resources = apiMethods(s.gatewayTemplate).filter((m) => m.httpMethod === 'ANY');
    expect(resources.map((m) => m.path).sort()).toEqual(EXPANDED.map((e) => e.path).sort());
  });

  it('puts an MCP endpoint at / on the API’s root resource, and the root PRM stays with authorization', () => {
    const root = apiMethods(s.gatewayTemplate).filter((m) => m.path === '/');
    expect(root.map((m) => m.httpMethod)).toEqual(['POST', 'GET', 'DELETE', 'OPTIONS', 'ANY']);
    expect(methodsOf('proxy').filter((m) => m.path === '/')).toHaveLength(5);
    expect(
      methodsOf('authorization')
        .filter((m) => m.path === '/.well-known/oauth-protected-resource')
        .map((m) => m.httpMethod),
    ).toEqual(['GET', 'HEAD', 'OPTIONS', 'ANY']);
  });

  it('routes the authorization server’s endpoints to the authorization function with its 25 s timeout', () => {
    const paths = new Set(methodsOf('authorization').map((m) => m.path));
    expect([...paths].sort()).toEqual(
      [
        '/.well-known/oauth-authorization-server',
        '/.well-known/oauth-protected-resource',
        '/.well-known/oauth-protected-resource/mcp',
        '/.well-known/oauth-protected-resource/tools/v1',
        '/.pomerium/mcp/authorize',
        '/.pomerium/mcp/register',
        '/.pomerium/mcp/revoke',
        '/.pomerium/mcp/token',
      ].sort(),
    );
    for (const method of methodsOf('authorization')) {
      expect(method.integration).toMatchObject({ Type: 'AWS_PROXY', TimeoutInMillis: 25_000 });
      expect(method.integration.ResponseTransferMode).toBeUndefined();
    }
  });

  it('streams the proxy function’s responses, with its 15-minute timeout on the integration', () => {
    expect(new Set(methodsOf('proxy').map((m) => m.path))).toEqual(new Set(MCP_PATHS));
    for (const method of methodsOf('proxy')) {
      expect(method.integration).toMatchObject({
        Type: 'AWS_PROXY',
        ResponseTransferMode: 'STREAM',
        TimeoutInMillis: 900_000,
      });
    }
    expect(functionNamed('proxy').properties).toMatchObject({ Timeout: 900, MemorySize: 512 });
    for (const name of NAMES.filter((n) => n !== 'proxy')) {
      for (const method of methodsOf(name))
        expect(method.integration.ResponseTransferMode, name).toBeUndefined();
    }
  });

  it('caches only the cacheable rows at the edge (the metadata documents pass through uncached)', () => {
    const distributions = Object.values(s.gatewayTemplate.findResources('AWS::CloudFront::Distribution')) as {
      Properties: { DistributionConfig: { CacheBehaviors: { PathPattern: string }[] } };
    }[];
    expect(distributions).toHaveLength(CONFIG.routes.length);
    for (const d of distributions) {
      expect(d.Properties.DistributionConfig.CacheBehaviors.map((b) => b.PathPattern)).toEqual([
        '/.well-known/mcp-client-metadata.json',
      ]);
    }
  });

  it('stays free of unacknowledged cdk-nag findings', () => {
    expect(unacknowledgedFindings(s.app)).toEqual([]);
  });
});
