import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_ENVIRONMENT_BUDGET_BYTES } from '../../lib/config-checks.ts';
import { LAMBDA_ENVIRONMENT_LIMIT_BYTES } from '../../lib/defaults.ts';
import { DEPLOYMENT_NAME_MAX_LENGTH } from '../../lib/deployment-names.ts';
import { actionsOf, functionNamed, resourcesAllowed, roleStatements, type Statement } from './iam.ts';
import { readFixture, type Synthesized, synthesize } from './synth.ts';

/** The three-route fixture has a trust policy, a pre-registered client and token lifetimes. */
const fixture = readFixture('infra-three-routes.config.json');
const FUNCTIONS = ['cimd', 'login', 'connect', 'callback', 'authorization', 'proxy'] as const;

let s: Synthesized;
beforeAll(() => {
  s = synthesize(fixture);
});

const env = (name: string) => functionNamed(s.gatewayTemplate, name).properties.Environment.Variables;
const statements = (name: string) => roleStatements(s.gatewayTemplate, name);
const roleOf = (name: string) => functionNamed(s.gatewayTemplate, name).properties.Role['Fn::GetAtt'][0];

/** The signing key's logical ID (the only asymmetric key). */
function signingKeyId(): string {
  const keys = Object.keys(
    s.gatewayTemplate.findResources('AWS::KMS::Key', { Properties: { KeyUsage: 'SIGN_VERIFY' } }),
  );
  expect(keys).toHaveLength(1);
  return keys[0]!;
}
const isSigningKey = (resource: unknown) =>
  JSON.stringify(resource) === JSON.stringify({ 'Fn::GetAtt': [signingKeyId(), 'Arn'] });

/** Every (role, statement) pair in the template's IAM policies. */
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

/** Whether an IAM action pattern (`kms:*`, `kms:Sign*`, `*`) covers an action. */
const covers = (pattern: string, action: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action);

/** The roles allowed an action on the signing key (by its ARN or any wildcard resource). */
function rolesAllowed(action: string): string[] {
  return allStatements()
    .filter(
      ({ statement }) =>
        statement.Effect !== 'Deny' &&
        actionsOf(statement).some((a) => covers(a, action)) &&
        [statement.Resource]
          .flat()
          .some((r) => isSigningKey(r) || (typeof r === 'string' && r.includes('*'))),
    )
    .flatMap(({ roles }) => roles)
    .sort();
}

describe('the token signing key', () => {
  it('is an ECC_NIST_P256 key for SIGN_VERIFY, not rotated (KMS rotates symmetric keys only) and retained', () => {
    s.gatewayTemplate.hasResource('AWS::KMS::Key', {
      Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', EnableKeyRotation: false },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('has the default key policy only: the account root, which delegates to IAM; no role named in it', () => {
    const key = s.gatewayTemplate.toJSON().Resources[signingKeyId()];
    expect(key.Properties.KeyPolicy.Statement).toEqual([
      {
        Action: 'kms:*',
        Effect: 'Allow',
        // The partition as a literal: @aws-cdk/core:enablePartitionLiterals (cdk.json).
        Principal: { AWS: 'arn:aws:iam::111122223333:root' },
        Resource: '*',
      },
    ]);
  });

  it('may be used to sign by the authorization function’s role and no other', () => {
    expect(rolesAllowed('kms:Sign')).toEqual([roleOf('authorization')]);
  });

  it('gives its public key to the authorization and proxy roles only', () => {
    expect(rolesAllowed('kms:GetPublicKey')).toEqual([roleOf('authorization'), roleOf('proxy')].sort());
  });

  it('is granted as exactly Sign and GetPublicKey to authorization, GetPublicKey to proxy', () => {
    const onKey = (name: string) =>
      statements(name)
        .filter((st) => [st.Resource].flat().some(isSigningKey))
        .map((st) => ({ actions: actionsOf(st), condition: st.Condition }));
    expect(onKey('authorization')).toEqual([
      // Sorted: @aws-cdk/aws-iam:minimizePolicies (cdk.json).
      { actions: ['kms:GetPublicKey', 'kms:Sign'], condition: undefined },
    ]);
    expect(onKey('proxy')).toEqual([{ actions: ['kms:GetPublicKey'], condition: undefined }]);
    for (const name of ['cimd', 'login', 'connect', 'callback']) expect(onKey(name), name).toEqual([]);
  });

  it.each(['authorization', 'proxy'])('is named to %s by MCP_EDGE_SIGNING_KEY_ARN', (name) => {
    expect(env(name).MCP_EDGE_SIGNING_KEY_ARN).toEqual({ 'Fn::GetAtt': [signingKeyId(), 'Arn'] });
  });
});

describe('authorization function', () => {
  it('gets 25 s (a client metadata fetch may take 10), buffered responses, 256 MB', () => {
    expect(functionNamed(s.gatewayTemplate, 'authorization').properties).toMatchObject({
      Timeout: 25,
      MemorySize: 256,
      Runtime: 'nodejs24.x',
    });
  });

  it('gets the shared services, the signing key and its settings, but not the identity provider', () => {
    expect(Object.keys(env('authorization')).sort()).toEqual([
      'MCP_EDGE_AUTHORIZATION',
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
  });

  it('gets the trust policy, pre-registered clients and token lifetimes as MCP_EDGE_AUTHORIZATION', () => {
    expect(JSON.parse(env('authorization').MCP_EDGE_AUTHORIZATION as string)).toEqual({
      trustPolicy: fixture.trustPolicy,
      mcpClients: fixture.mcpClients,
      tokens: fixture.tokens,
    });
    for (const name of FUNCTIONS.filter((n) => n !== 'authorization')) {
      expect(env(name).MCP_EDGE_AUTHORIZATION, name).toBeUndefined();
    }
  });

  it('reads and writes exactly its record kinds, and only reads sessions and vault items', () => {
    const table = statements('authorization').filter((st) =>
      actionsOf(st).some((a) => a.startsWith('dynamodb:')),
    );
    expect(table.map((st) => [actionsOf(st).sort(), st.Condition])).toEqual([
      [
        [
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ],
        {
          'ForAllValues:StringLike': {
            'dynamodb:LeadingKeys': ['client#*', 'code#*', 'grant#*', 'refresh#*'],
          },
        },
      ],
      [
        ['dynamodb:GetItem', 'dynamodb:Query'],
        { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['session#*', 'vault#*'] } },
      ],
    ]);
    for (const st of table) {
      expect([st.Resource].flat()).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^DataTable/), 'Arn'] }]);
    }
  });

  it('has no vault key access (it cannot decrypt upstream tokens) and reads only the sealing secret', () => {
    const kms = statements('authorization').filter((st) => actionsOf(st).some((a) => a.startsWith('kms:')));
    const outsideDynamo = kms.filter(
      (st) => !(st.Condition?.StringEquals && 'kms:ViaService' in st.Condition.StringEquals),
    );
    expect(outsideDynamo.map((st) => actionsOf(st))).toEqual([['kms:GetPublicKey', 'kms:Sign']]);
    // The record key's source (functions/core/store/record-mac.ts): no IdP or upstream secret.
    expect(resourcesAllowed(statements('authorization'), 'secretsmanager:GetSecretValue')).toEqual([
      { Ref: expect.stringMatching(/^ProxySealingSecret/) },
    ]);
  });
});

describe('the functions’ environment (4 KiB each)', () => {
  /** Longest values the template's tokens resolve to. */
  const WORST_CASE = {
    // arn:{partition, at most 10 characters}:kms:{region, at most 16}:{account}:key/{key id}
    keyArn: 'arn:'.length + 10 + ':kms:'.length + 16 + ':123456789012:key/'.length + 36,
    // CloudFormation names the table `[{deploymentName}-]McpEdgeGateway-DataTable<8 hex>-<about 13
    // characters>`: 63 with the longest deploymentName (lib/deployment-names.ts).
    tableName: 64,
    // arn:{partition}:secretsmanager:{region}:{account}:secret: before the secret's name
    secretArnWithoutName:
      'arn:'.length + 10 + ':secretsmanager:'.length + 16 + ':123456789012:secret:'.length,
  };
  const CONFIG_VARIABLES = ['MCP_EDGE_ROUTES', 'MCP_EDGE_IDP', 'MCP_EDGE_AUTHORIZATION'];

  /** Bytes of a variable's value once CloudFormation and Lambda resolved it. */
  function valueBytes(value: unknown): number {
    if (typeof value === 'string') return Buffer.byteLength(value);
    const json = JSON.stringify(value);
    const secrets = s.gatewayTemplate.findResources('AWS::SecretsManager::Secret') as Record<
      string,
      { Properties: { GenerateSecretString: { PasswordLength: number } } }
    >;
    // A dynamic reference resolves to the generated value.
    const resolved =
      /^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:",\{"Ref":"(\w+)"\},":SecretString:::\}\}"\]\]\}$/.exec(
        json,
      );
    if (resolved) return secrets[resolved[1]!]!.Properties.GenerateSecretString.PasswordLength;
    // A secret's Ref is its ARN: CloudFormation names it `{logical ID}-{12 characters}`, and
    // Secrets Manager adds `-{6 characters}`.
    const secretRef = /^\{"Ref":"(\w+)"\}$/.exec(json);
    if (secretRef && secretRef[1]! in secrets) {
      return WORST_CASE.secretArnWithoutName + secretRef[1]!.length + '-123456789012-AbCdEf'.length;
    }
    if (/^\{"Fn::GetAtt":\["[A-Za-z0-9]*Key[A-Za-z0-9]*","Arn"\]\}$/.test(json)) return WORST_CASE.keyArn;
    if (/^\{"Ref":"DataTable[A-Za-z0-9]*"\}$/.test(json)) return WORST_CASE.tableName;
    throw new Error(`no worst case for ${json}`);
  }

  // The longest deploymentName lengthens the service name and the table's generated name.
  const longestName = synthesize({ ...fixture, deploymentName: 'x'.repeat(DEPLOYMENT_NAME_MAX_LENGTH) });
  it.each(
    FUNCTIONS.flatMap((name) => [
      [name, 'no deploymentName'] as const,
      [name, 'the longest deploymentName'] as const,
    ]),
  )('%s, %s: every variable but the config’s fits in the room the config budget leaves', (name, naming) => {
    const template = naming === 'no deploymentName' ? s.gatewayTemplate : longestName.gatewayTemplate;
    const variables = Object.entries(functionNamed(template, name).properties.Environment.Variables);
    const fixed = variables.reduce(
      (sum, [key, value]) =>
        sum + Buffer.byteLength(key) + (CONFIG_VARIABLES.includes(key) ? 0 : valueBytes(value)),
      0,
    );
    expect(fixed).toBeLessThanOrEqual(LAMBDA_ENVIRONMENT_LIMIT_BYTES - CONFIG_ENVIRONMENT_BUDGET_BYTES);
  });
});
