import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS, type Endpoint } from '../../functions/core/endpoints.ts';
import { unacknowledgedFindings } from './nag.ts';
import { readFixture, type Synthesized, synthesize } from './synth.ts';

/**
 * The endpoint table as it will grow: a callback row and a streaming catch-all proxy row next to
 * the CIMD row. The names are not in `FunctionName` yet, hence the cast; the handlers are stubs.
 */
const GROWN_TABLE = [
  ...ENDPOINTS,
  { path: '/.pomerium/oauth/callback', methods: ['GET'], function: 'callback', cacheable: false },
  { path: '/', methods: ['GET', 'POST', 'DELETE'], function: 'proxy', cacheable: false },
  { path: '/{proxy+}', methods: ['GET', 'POST', 'DELETE'], function: 'proxy', cacheable: false },
] as unknown as readonly Endpoint[];

let s: Synthesized;
beforeAll(() => {
  s = synthesize(readFixture('infra-three-routes.config.json'), {
    endpoints: GROWN_TABLE,
    functionsDir: resolve(import.meta.dirname, 'stub-functions'),
  });
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

function methodsOf(functionId: string): Props[] {
  return Object.values(s.gatewayTemplate.findResources('AWS::ApiGateway::Method'))
    .map((m) => (m as { Properties: Props }).Properties)
    .filter((p) => JSON.stringify(p.Integration).includes(`"${functionId}"`));
}

function policyStatementsOf(functionId: string): unknown[] {
  const fn = functionNamed(functionId).properties;
  const roleId = (fn.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  return Object.values(s.gatewayTemplate.findResources('AWS::IAM::Policy'))
    .map(
      (p) => (p as { Properties: { Roles: unknown; PolicyDocument: { Statement: unknown[] } } }).Properties,
    )
    .filter((p) => JSON.stringify(p.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.PolicyDocument.Statement);
}

describe('generation from the endpoint table', () => {
  it('creates one function per function name, however many rows name it', () => {
    expect(Object.keys(s.gatewayTemplate.findResources('AWS::Lambda::Function'))).toHaveLength(3);
  });

  it('creates one method per row and method, each on its own function', () => {
    expect(methodsOf(functionNamed('cimd').id).map((m) => m.HttpMethod)).toEqual(['GET', 'HEAD', 'OPTIONS']);
    expect(methodsOf(functionNamed('callback').id).map((m) => m.HttpMethod)).toEqual(['GET']);
    expect(methodsOf(functionNamed('proxy').id).map((m) => m.HttpMethod)).toEqual([
      'GET',
      'POST',
      'DELETE',
      'GET',
      'POST',
      'DELETE',
    ]);
    s.gatewayTemplate.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
  });

  it('streams the proxy function’s responses, with its 15-minute timeout on the integration', () => {
    for (const method of methodsOf(functionNamed('proxy').id)) {
      expect(method.Integration).toMatchObject({
        Type: 'AWS_PROXY',
        ResponseTransferMode: 'STREAM',
        TimeoutInMillis: 900_000,
      });
    }
    expect(functionNamed('proxy').properties.Timeout).toBe(900);
    for (const method of methodsOf(functionNamed('callback').id)) {
      expect((method.Integration as Props).ResponseTransferMode).toBeUndefined();
    }
  });

  it('gives table access (and the table name) only to functions whose settings ask for it', () => {
    for (const name of ['callback', 'proxy']) {
      const env = (functionNamed(name).properties.Environment as { Variables: Props }).Variables;
      expect(env.MCP_EDGE_TABLE, name).toEqual({ Ref: expect.stringMatching(/^DataTable/) });
      expect(JSON.stringify(policyStatementsOf(name)), name).toContain('dynamodb:PutItem');
    }
    const cimdEnv = (functionNamed('cimd').properties.Environment as { Variables: Props }).Variables;
    expect(cimdEnv.MCP_EDGE_TABLE).toBeUndefined();
    expect(JSON.stringify(policyStatementsOf('cimd'))).not.toMatch(/dynamodb|kms/);
  });

  it('caches only the cacheable rows at the edge', () => {
    const distributions = Object.values(s.gatewayTemplate.findResources('AWS::CloudFront::Distribution')) as {
      Properties: { DistributionConfig: { CacheBehaviors: { PathPattern: string }[] } };
    }[];
    for (const d of distributions) {
      expect(d.Properties.DistributionConfig.CacheBehaviors.map((b) => b.PathPattern)).toEqual([
        '/.well-known/mcp-client-metadata.json',
      ]);
    }
  });

  it('stays free of unacknowledged cdk-nag findings with table-reading functions', () => {
    expect(unacknowledgedFindings(s.app)).toEqual([]);
  });
});
