import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { actionsOf, functionNamed, resourcesAllowed, roleStatements, type Statement } from './iam.ts';
import { readFixture, type Synthesized, synthesize } from './synth.ts';

/** The three-route fixture: `tools.example.org` has a configured upstream client secret. */
const fixture = readFixture('infra-three-routes.config.json');
const TOOLS_SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools-AbCdEf';
const ORIGINS = fixture.routes.map((r) => r.from);

let s: Synthesized;
beforeAll(() => {
  s = synthesize(fixture);
});

const proxy = () => functionNamed(s.gatewayTemplate, 'proxy').properties;
const statements = (name = 'proxy') => roleStatements(s.gatewayTemplate, name);
const TABLE_ARN = { 'Fn::GetAtt': [expect.stringMatching(/^DataTable/), 'Arn'] };
const DATA_KEY_ARN = { 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] };

/** The sealing secret's logical ID (the generated secret under ProxySealing). */
function sealingSecretId(template = s.gatewayTemplate): string {
  const ids = Object.keys(template.findResources('AWS::SecretsManager::Secret')).filter((id) =>
    id.startsWith('ProxySealing'),
  );
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

/** Every statement of every IAM policy in the template, with the roles it is attached to. */
function allStatements(): { roles: string[]; statement: Statement }[] {
  return Object.values(s.gatewayTemplate.findResources('AWS::IAM::Policy')).flatMap((p) => {
    const props = (
      p as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }
    ).Properties;
    return props.PolicyDocument.Statement.map((statement) => ({
      roles: props.Roles.map((r) => r.Ref),
      statement,
    }));
  });
}

describe('proxy function', () => {
  it('runs Node.js 24 on ARM64 with 512 MB and a 15-minute timeout', () => {
    expect(proxy()).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 900,
    });
  });

  it('streams every MCP method through API Gateway with the 15-minute timeout on the integration', () => {
    const id = functionNamed(s.gatewayTemplate, 'proxy').logicalId;
    const methods = Object.values(s.gatewayTemplate.findResources('AWS::ApiGateway::Method')).filter((m) =>
      JSON.stringify(m).includes(`"${id}"`),
    ) as { Properties: { HttpMethod: string; Integration: Record<string, unknown> } }[];
    // Two MCP paths (/mcp shared by two routes, /v1/mcp), each POST GET DELETE OPTIONS and ANY.
    expect(methods).toHaveLength(10);
    for (const method of methods) {
      expect(method.Properties.Integration).toMatchObject({
        Type: 'AWS_PROXY',
        ResponseTransferMode: 'STREAM',
        TimeoutInMillis: 900_000,
      });
    }
  });

  it('gets the shared services, the signing key and the sealing secret by ARN, not the identity provider or the authorization settings', () => {
    const env = proxy().Environment.Variables;
    expect(Object.keys(env).sort()).toEqual([
      'MCP_EDGE_FUNCTION',
      'MCP_EDGE_KMS_KEY_ARN',
      'MCP_EDGE_ORIGIN_VERIFY',
      'MCP_EDGE_ROUTES',
      'MCP_EDGE_SEALING_SECRET_ARN',
      'MCP_EDGE_SIGNING_KEY_ARN',
      'MCP_EDGE_TABLE',
      'NODE_OPTIONS',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
    ]);
    expect(env.MCP_EDGE_TABLE).toEqual({ Ref: expect.stringMatching(/^DataTable/) });
    expect(env.MCP_EDGE_KMS_KEY_ARN).toEqual(DATA_KEY_ARN);
    // The ARN, never the value: Ref of a secret is its ARN; a dynamic reference would be the value.
    expect(env.MCP_EDGE_SEALING_SECRET_ARN).toEqual({ Ref: sealingSecretId() });
  });

  it('has a role with exactly these actions, and nothing that signs a token', () => {
    expect([...new Set(statements().flatMap(actionsOf))].sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      'kms:GenerateDataKey*',
      'kms:GetPublicKey',
      'kms:ReEncrypt*',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'secretsmanager:GetSecretValue',
    ]);
    expect(resourcesAllowed(statements(), 'kms:GetPublicKey')).toEqual([
      {
        'Fn::GetAtt': [
          Object.keys(
            s.gatewayTemplate.findResources('AWS::KMS::Key', { Properties: { KeyUsage: 'SIGN_VERIFY' } }),
          )[0],
          'Arn',
        ],
      },
    ]);
  });

  it('reads and writes vault items only, and only reads grants and dynamic registrations', () => {
    const table = statements().filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
    expect(table.map((st) => [actionsOf(st).sort(), st.Condition])).toEqual([
      [
        [
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ],
        { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['vault#*'] } },
      ],
      [
        ['dynamodb:GetItem', 'dynamodb:Query'],
        { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['grant#*', 'registration#*'] } },
      ],
    ]);
    for (const st of table) expect([st.Resource].flat()).toEqual([TABLE_ARN]);
  });

  it('reaches the table key for the table only through DynamoDB', () => {
    const key = statements().find((st) => actionsOf(st).includes('kms:Encrypt'))!;
    expect(key.Resource).toEqual(DATA_KEY_ARN);
    expect(key.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 'dynamodb.eu-central-1.amazonaws.com' },
    });
  });

  it('gets vault data keys under the same statement as connect: the full vault context, this deployment’s routes', () => {
    const vault = (name: string) =>
      statements(name).filter((st) => actionsOf(st).includes('kms:GenerateDataKey'));
    expect(vault('proxy')).toHaveLength(1);
    expect(vault('proxy')[0]).toEqual(vault('connect')[0]);
    expect(vault('proxy')[0]).toMatchObject({
      // Sorted: @aws-cdk/aws-iam:minimizePolicies (cdk.json).
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: DATA_KEY_ARN,
      Condition: {
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['route', 'user', 'issuer'] },
        Null: {
          'kms:EncryptionContext:route': 'false',
          'kms:EncryptionContext:user': 'false',
          'kms:EncryptionContext:issuer': 'false',
        },
        StringEquals: { 'kms:EncryptionContext:route': ORIGINS },
      },
    });
  });

  it('may read exactly the routes’ upstream client secrets and the sealing secret', () => {
    expect(resourcesAllowed(statements(), 'secretsmanager:GetSecretValue')).toEqual([
      TOOLS_SECRET,
      { Ref: sealingSecretId() },
    ]);
  });
});

describe('proxy sealing secret', () => {
  it('is generated by Secrets Manager (64 characters); its value is neither in the template nor referenced', () => {
    const id = sealingSecretId();
    const secret = s.gatewayTemplate.toJSON().Resources[id];
    expect(secret.Properties.GenerateSecretString).toMatchObject({
      PasswordLength: 64,
      ExcludePunctuation: true,
      IncludeSpace: false,
    });
    expect(secret.Properties.SecretString).toBeUndefined();
    // No dynamic reference resolves it into any resource: only the proxy reads it, at run time.
    const json = JSON.stringify(s.gatewayTemplate.toJSON());
    expect(json).not.toMatch(new RegExp(`\\{\\{resolve:secretsmanager:",\\{"Ref":"${id}"\\}`));
  });

  it('is deleted with the stack: losing it only invalidates what it keys (sealed values, table record tags)', () => {
    s.gatewayTemplate.hasResource('AWS::SecretsManager::Secret', {
      Properties: Match.objectLike({ GenerateSecretString: Match.objectLike({ PasswordLength: 64 }) }),
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });

  it('may be read by the functions that keep authenticated table records, and no other (not cimd)', () => {
    const ref = JSON.stringify({ Ref: sealingSecretId() });
    const readers = allStatements().filter(
      ({ statement }) =>
        actionsOf(statement).some((a) => /^secretsmanager:(GetSecretValue|\*)$|^\*$/.test(a)) &&
        [statement.Resource].flat().some((r) => JSON.stringify(r) === ref || r === '*'),
    );
    const roleOf = (name: string) => functionNamed(s.gatewayTemplate, name).properties.Role['Fn::GetAtt'][0];
    expect(readers.flatMap((r) => r.roles).sort()).toEqual(
      ['login', 'connect', 'callback', 'authorization', 'proxy'].map(roleOf).sort(),
    );
    for (const { statement } of readers) {
      // Exactly this secret and this action: never a wildcard.
      expect(actionsOf(statement)).toContain('secretsmanager:GetSecretValue');
      expect(statement.Resource).not.toBe('*');
    }
  });

  it('is replaced, and the proxy pointed at the new one, when its generation is bumped', () => {
    const bumped = synthesize(fixture, { sealingSecretGeneration: 1 });
    const newId = sealingSecretId(bumped.gatewayTemplate);
    expect(newId).not.toBe(sealingSecretId());
    expect(newId).toMatch(/^ProxySealingSecret1/);
    expect(functionNamed(bumped.gatewayTemplate, 'proxy').properties.Environment.Variables).toMatchObject({
      MCP_EDGE_SEALING_SECRET_ARN: { Ref: newId },
    });
    // The origin secret is untouched.
    const originIds = (t: Synthesized) =>
      Object.keys(t.gatewayTemplate.findResources('AWS::SecretsManager::Secret')).filter((id) =>
        id.startsWith('OriginVerify'),
      );
    expect(originIds(bumped)).toEqual(originIds(s));
  });

  it.each([-1, 1.5, Number.NaN])('refuses generation %s at synth', (generation) => {
    expect(() => synthesize(fixture, { sealingSecretGeneration: generation })).toThrow(
      /sealingSecretGeneration must be a non-negative integer/,
    );
  });
});
