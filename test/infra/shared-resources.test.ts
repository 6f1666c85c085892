import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_DEFINITION } from '../../functions/core/store/table.ts';
import { readFixture, type Synthesized, synthesize } from './synth.ts';

/** The route hosts of the three-route fixture, in config order. */
const HOSTS = ['mcp.example.com', 'docs.mcp.example.com', 'tools.example.org'] as const;

let s: Synthesized;
beforeAll(() => {
  s = synthesize(readFixture('infra-three-routes.config.json'));
});

describe('table', () => {
  it('has the keys, TTL attribute and on-demand billing of TABLE_DEFINITION', () => {
    s.gatewayTemplate.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_DEFINITION.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_DEFINITION.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: TABLE_DEFINITION.partitionKey, AttributeType: 'S' },
        { AttributeName: TABLE_DEFINITION.sortKey, AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: TABLE_DEFINITION.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] },
      },
    });
  });

  it('is encrypted with a customer-managed key that rotates, and both are retained', () => {
    s.gatewayTemplate.hasResource('AWS::KMS::Key', {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    s.gatewayTemplate.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });
});

describe('REST API', () => {
  it('is REGIONAL with the default execute-api endpoint disabled', () => {
    s.gatewayTemplate.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
      DisableExecuteApiEndpoint: true,
    });
  });

  it('logs access to a log group with retention, and throttles the stage', () => {
    s.gatewayTemplate.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'live',
      AccessLogSetting: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GatewayAccessLogs'), 'Arn'] },
      },
      MethodSettings: [
        Match.objectLike({
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
        }),
      ],
    });
    s.gatewayTemplate.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('writes access log lines that are valid JSON once API Gateway fills them in', () => {
    const stage = Object.values(s.gatewayTemplate.findResources('AWS::ApiGateway::Stage'))[0] as {
      Properties: { AccessLogSetting: { Format: string } };
    };
    // $context.error.messageString arrives already quoted; every other variable sits in quotes.
    const filled = stage.Properties.AccessLogSetting.Format.replace(
      '$context.error.messageString',
      '"x"',
    ).replace(/\$context\.[A-Za-z.]+/g, 'v');
    expect(() => JSON.parse(filled)).not.toThrow();
  });

  it.each(['GET', 'HEAD', 'OPTIONS'])(
    'routes %s on the CIMD path to the cimd function as a Lambda proxy',
    (method) => {
      const resources = s.gatewayTemplate.findResources('AWS::ApiGateway::Resource', {
        Properties: { PathPart: 'mcp-client-metadata.json' },
      });
      const [resourceId] = Object.keys(resources);
      const parent = (resources[resourceId!] as { Properties: { ParentId: { Ref: string } } }).Properties
        .ParentId.Ref;
      s.gatewayTemplate.hasResourceProperties('AWS::ApiGateway::Resource', {
        PathPart: '.well-known',
        ParentId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GatewayApi'), 'RootResourceId'] },
      });
      expect(parent).toMatch(/^GatewayApiwellknown/);
      s.gatewayTemplate.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: method,
        ResourceId: { Ref: resourceId },
        AuthorizationType: 'NONE',
        Integration: {
          Type: 'AWS_PROXY',
          IntegrationHttpMethod: 'POST',
          Uri: {
            'Fn::Join': [
              '',
              Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('^CimdFunction'), 'Arn'] }]),
            ],
          },
        },
      });
    },
  );
});

describe('cimd function', () => {
  const cimd = () => {
    const fns = s.gatewayTemplate.findResources('AWS::Lambda::Function', {
      Properties: { Description: 'MCP Edge: cimd' },
    });
    expect(Object.keys(fns)).toHaveLength(1);
    return Object.values(fns)[0] as { Properties: Record<string, unknown> };
  };

  it('runs Node.js 24 on ARM64 with source maps, its own log group and a small timeout', () => {
    expect(cimd().Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 5,
      Handler: 'index.handler',
      LoggingConfig: { LogGroup: { Ref: expect.stringMatching('^CimdFunctionLogs') } },
    });
  });

  it('gets the validated route table and the origin secret (as a dynamic reference) in its environment', () => {
    const env = (cimd().Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    const routes = JSON.parse(env.MCP_EDGE_ROUTES as string) as { from: string }[];
    expect(routes.map((r) => r.from)).toEqual(HOSTS.map((h) => `https://${h}`));
    expect(JSON.stringify(env.MCP_EDGE_ORIGIN_VERIFY)).toContain('{{resolve:secretsmanager:');
    expect(env.NODE_OPTIONS).toBe('--enable-source-maps');
    expect(env.MCP_EDGE_TABLE).toBeUndefined();
  });

  it('has a role that may only write its own logs: no managed policy, no table or key access', () => {
    const fn = cimd();
    const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const role = s.gatewayTemplate.toJSON().Resources[roleId];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const policies = Object.values(s.gatewayTemplate.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(roleId),
    ) as { Properties: { PolicyDocument: { Statement: unknown[] } } }[];
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: {
          'Fn::GetAtt': [(fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref, 'Arn'],
        },
      },
    ]);
  });
});

describe('functions on the shared services (login, connect, callback)', () => {
  const fn = (name: string) => {
    const found = Object.entries(
      s.gatewayTemplate.findResources('AWS::Lambda::Function', {
        Properties: { Description: `MCP Edge: ${name}` },
      }),
    );
    expect(found, name).toHaveLength(1);
    return found[0]![1] as {
      Properties: { Role: { 'Fn::GetAtt': [string] }; Environment: { Variables: Props } };
    };
  };
  type Props = Record<string, unknown>;
  type Statement = { Action: string | string[]; Resource: unknown; Condition?: Record<string, Props> };
  const statements = (name: string): Statement[] => {
    const roleId = fn(name).Properties.Role['Fn::GetAtt'][0];
    return Object.values(s.gatewayTemplate.findResources('AWS::IAM::Policy'))
      .map(
        (p) =>
          (p as { Properties: { Roles: unknown; PolicyDocument: { Statement: Statement[] } } }).Properties,
      )
      .filter((p) => JSON.stringify(p.Roles).includes(`"${roleId}"`))
      .flatMap((p) => p.PolicyDocument.Statement);
  };
  const actions = (st: Statement) => [st.Action].flat();
  const IDP_SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:idp-QwErTy';
  const TOOLS_SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools-AbCdEf';

  it.each(['login', 'connect', 'callback'])(
    '%s gets the table, the key ARN and the identity provider',
    (name) => {
      const env = fn(name).Properties.Environment.Variables;
      expect(env.MCP_EDGE_TABLE).toEqual({ Ref: expect.stringMatching(/^DataTable/) });
      expect(env.MCP_EDGE_KMS_KEY_ARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] });
      expect(JSON.parse(env.MCP_EDGE_IDP as string)).toEqual({
        issuer: 'https://login.example.com',
        clientId: 'mcp-edge',
        clientSecretArn: IDP_SECRET,
      });
    },
  );

  it.each(['login', 'connect', 'callback'])('%s reaches the table key only through DynamoDB', (name) => {
    const table = statements(name).find((st) => actions(st).includes('dynamodb:PutItem'))!;
    expect(actions(table)).not.toContain('dynamodb:Scan');
    expect([table.Resource].flat()).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^DataTable/), 'Arn'] }]);
    const key = statements(name).find((st) => actions(st).includes('kms:Encrypt'))!;
    expect(key.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 'dynamodb.eu-central-1.amazonaws.com' },
    });
  });

  it.each(['connect', 'callback'])(
    '%s gets vault data keys only under the full vault context, for this deployment’s routes',
    (name) => {
      const vault = statements(name).filter((st) => actions(st).includes('kms:GenerateDataKey'));
      expect(vault).toHaveLength(1);
      expect(actions(vault[0]!)).toEqual(['kms:GenerateDataKey', 'kms:Decrypt']);
      expect(vault[0]!.Condition).toEqual({
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['route', 'user', 'issuer'] },
        Null: {
          'kms:EncryptionContext:route': 'false',
          'kms:EncryptionContext:user': 'false',
          'kms:EncryptionContext:issuer': 'false',
        },
        StringEquals: { 'kms:EncryptionContext:route': HOSTS.map((h) => `https://${h}`) },
      });
    },
  );

  it('keeps login out of the vault and the upstream client secrets', () => {
    expect(statements('login').filter((st) => actions(st).includes('kms:GenerateDataKey'))).toEqual([]);
    const secrets = statements('login').filter((st) => actions(st).includes('secretsmanager:GetSecretValue'));
    expect(secrets.flatMap((st) => [st.Resource].flat())).toEqual([IDP_SECRET]);
  });

  it.each(['connect', 'callback'])('%s may read exactly the configured secrets', (name) => {
    const secrets = statements(name).filter((st) => actions(st).includes('secretsmanager:GetSecretValue'));
    expect(secrets.flatMap((st) => [st.Resource].flat()).sort()).toEqual([IDP_SECRET, TOOLS_SECRET].sort());
  });
});

describe('origin-verify secret', () => {
  it('is one generated Secrets Manager secret shared by all routes; its value is not in the template', () => {
    s.gatewayTemplate.resourceCountIs('AWS::SecretsManager::Secret', 1);
    s.gatewayTemplate.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 48, ExcludePunctuation: true }),
    });
    const [secret] = Object.values(s.gatewayTemplate.findResources('AWS::SecretsManager::Secret')) as {
      Properties: Record<string, unknown>;
    }[];
    expect(secret!.Properties.SecretString).toBeUndefined();
  });
});
