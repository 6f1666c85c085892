import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS, type Endpoint } from '../../functions/core/endpoints.ts';
import { actionsOf, resourcesAllowed, roleStatements } from './iam.ts';
import { unacknowledgedFindings } from './nag.ts';
import { REPO_ROOT, readFixture, type Synthesized, synthesize } from './synth.ts';

/**
 * The endpoint table as it will grow: today's rows plus a streaming catch-all proxy. `proxy` is not
 * a `FunctionName` yet, hence the cast; every handler is a stub written to a temporary folder.
 */
const GROWN_TABLE = [
  ...ENDPOINTS,
  { path: '/', methods: ['GET', 'POST', 'DELETE'], function: 'proxy', cacheable: false },
  { path: '/{proxy+}', methods: ['GET', 'POST', 'DELETE'], function: 'proxy', cacheable: false },
] as unknown as readonly Endpoint[];
const NAMES = [...new Set(GROWN_TABLE.map((e) => e.function as string))];

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
  s = synthesize(readFixture('infra-three-routes.config.json'), { endpoints: GROWN_TABLE, functionsDir });
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

function methodsOf(name: string): Props[] {
  const { id } = functionNamed(name);
  return Object.values(s.gatewayTemplate.findResources('AWS::ApiGateway::Method'))
    .map((m) => (m as { Properties: Props }).Properties)
    .filter((p) => JSON.stringify(p.Integration).includes(`"${id}"`));
}

describe('generation from the endpoint table', () => {
  it('creates one function per function name, however many rows name it', () => {
    expect(Object.keys(s.gatewayTemplate.findResources('AWS::Lambda::Function'))).toHaveLength(NAMES.length);
  });

  it('creates one method per row and method, each integrated with its own function', () => {
    for (const name of NAMES) {
      const expected = GROWN_TABLE.filter((e) => e.function === name).flatMap((e) => [...e.methods, 'ANY']);
      expect(
        methodsOf(name).map((m) => m.HttpMethod),
        name,
      ).toEqual(expected);
    }
    s.gatewayTemplate.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
  });

  it('streams the proxy function’s responses, with its 15-minute timeout on the integration', () => {
    for (const method of methodsOf('proxy')) {
      expect(method.Integration).toMatchObject({
        Type: 'AWS_PROXY',
        ResponseTransferMode: 'STREAM',
        TimeoutInMillis: 900_000,
      });
    }
    expect(functionNamed('proxy').properties.Timeout).toBe(900);
    for (const name of NAMES.filter((n) => n !== 'proxy')) {
      for (const method of methodsOf(name))
        expect((method.Integration as Props).ResponseTransferMode).toBeUndefined();
    }
  });

  it('caches only the cacheable rows at the edge', () => {
    const distributions = Object.values(s.gatewayTemplate.findResources('AWS::CloudFront::Distribution')) as {
      Properties: { DistributionConfig: { CacheBehaviors: { PathPattern: string }[] } };
    }[];
    const cacheable = GROWN_TABLE.filter((e) => e.cacheable).map((e) => e.path);
    for (const d of distributions) {
      expect(d.Properties.DistributionConfig.CacheBehaviors.map((b) => b.PathPattern)).toEqual(cacheable);
    }
  });

  it('gives the proxy (which refreshes upstream tokens) the vault and the upstream secrets, not sign-in', () => {
    const statements = roleStatements(s.gatewayTemplate, 'proxy');
    const vault = statements.filter((st) => actionsOf(st).includes('kms:GenerateDataKey'));
    expect(vault.map((st) => Object.keys(st.Condition ?? {}).sort())).toEqual([
      ['ForAllValues:StringEquals', 'Null', 'StringEquals'],
    ]);
    expect(resourcesAllowed(statements, 'secretsmanager:GetSecretValue')).toEqual([
      'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools-AbCdEf',
    ]);
    expect(functionNamed('proxy').properties.Environment).not.toHaveProperty('Variables.MCP_EDGE_IDP');
  });

  it('stays free of unacknowledged cdk-nag findings', () => {
    expect(unacknowledgedFindings(s.app)).toEqual([]);
  });
});
