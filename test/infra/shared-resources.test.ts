import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_DEFINITION } from '../../functions/core/store/table.ts';
import {
  actionsOf,
  allowsEncryptionContext,
  functionNamed,
  resourcesAllowed,
  roleStatements,
} from './iam.ts';
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
      // The log group's ARN without the `:*` suffix: @aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard.
      AccessLogSetting: {
        DestinationArn: {
          'Fn::Join': [
            '',
            [
              'arn:aws:logs:eu-central-1:111122223333:log-group:',
              { Ref: Match.stringLikeRegexp('^GatewayAccessLogs') },
            ],
          ],
        },
      },
      // The entry points' lower method limits: edge-protection.test.ts.
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          ResourcePath: '/*',
          HttpMethod: '*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
        }),
      ]),
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

  it.each(['GET', 'HEAD', 'OPTIONS', 'ANY'])(
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
  const cimd = () => functionNamed(s.gatewayTemplate, 'cimd').properties;

  it('runs Node.js 24 on ARM64 with source maps, its own log group and a small timeout', () => {
    expect(cimd()).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 5,
      Handler: 'index.handler',
      LoggingConfig: { LogGroup: { Ref: expect.stringMatching('^CimdFunctionLogs') } },
    });
  });

  it('gets the validated route table and the origin secret (as a dynamic reference), nothing of the shared services', () => {
    const env = cimd().Environment.Variables;
    const routes = JSON.parse(env.MCP_EDGE_ROUTES as string) as { from: string }[];
    expect(routes.map((r) => r.from)).toEqual(HOSTS.map((h) => `https://${h}`));
    expect(JSON.stringify(env.MCP_EDGE_ORIGIN_VERIFY)).toContain('{{resolve:secretsmanager:');
    expect(env.NODE_OPTIONS).toBe('--enable-source-maps');
    expect(Object.keys(env).sort()).toEqual([
      'MCP_EDGE_FUNCTION',
      'MCP_EDGE_ORIGIN_VERIFY',
      'MCP_EDGE_ROUTES',
      'NODE_OPTIONS',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_SERVICE_NAME',
    ]);
  });

  it('has a role that may only write its own logs: no managed policy, no table, key or secret access', () => {
    const fn = cimd();
    const role = s.gatewayTemplate.toJSON().Resources[fn.Role['Fn::GetAtt'][0]];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(roleStatements(s.gatewayTemplate, 'cimd')).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [fn.LoggingConfig.LogGroup.Ref, 'Arn'] },
      },
    ]);
  });
});

describe('functions on the shared services (login, connect, callback)', () => {
  const env = (name: string) => functionNamed(s.gatewayTemplate, name).properties.Environment.Variables;
  const statements = (name: string) => roleStatements(s.gatewayTemplate, name);
  const IDP_SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:idp-QwErTy';
  const TOOLS_SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools-AbCdEf';

  it.each(['login', 'connect', 'callback'])('%s gets the table and the key ARN', (name) => {
    expect(env(name).MCP_EDGE_TABLE).toEqual({ Ref: expect.stringMatching(/^DataTable/) });
    expect(env(name).MCP_EDGE_KMS_KEY_ARN).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'],
    });
  });

  it('gives login the external identity provider, with the ARN of its client secret', () => {
    expect(JSON.parse(env('login').MCP_EDGE_IDP as string)).toEqual({
      issuer: 'https://login.example.com',
      clientId: 'mcp-edge',
      clientSecretArn: IDP_SECRET,
    });
  });

  // lambdaServices loads the secret MCP_EDGE_IDP names at cold start: the variable without the
  // permission would stop these functions from starting.
  it.each(['connect', 'callback'])(
    'does not give %s the identity provider (it never signs anyone in)',
    (name) => {
      expect(env(name).MCP_EDGE_IDP).toBeUndefined();
    },
  );

  it('creates no user pool when the config names an external issuer', () => {
    const types = Object.values(s.gatewayTemplate.toJSON().Resources as Record<string, { Type: string }>).map(
      (r) => r.Type,
    );
    expect(types.filter((t) => t.startsWith('AWS::Cognito::'))).toEqual([]);
  });

  // The callback's role is cut to the operations it calls: callback-role.test.ts.
  it.each(['login', 'connect'])(
    '%s may use only the item operations the stores use (no batches, no scans)',
    (name) => {
      const table = statements(name).find((st) => actionsOf(st).includes('dynamodb:PutItem'))!;
      expect(actionsOf(table).sort()).toEqual([
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ]);
    },
  );

  it.each([
    ['login', ['session#*']],
    // Its connections page also lists and revokes the MCP clients a person authorized.
    ['connect', ['session#*', 'state#*', 'vault#*', 'registration#*', 'discovery#*', 'grant#*', 'refresh#*']],
  ])('%s may touch only its record kinds (dynamodb:LeadingKeys)', (name, prefixes) => {
    const table = statements(name).find((st) => actionsOf(st).includes('dynamodb:PutItem'))!;
    expect(table.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes } });
  });

  it.each(['login', 'connect'])('%s reaches the table key only through DynamoDB', (name) => {
    const table = statements(name).find((st) => actionsOf(st).includes('dynamodb:PutItem'))!;
    expect(actionsOf(table)).not.toContain('dynamodb:Scan');
    expect([table.Resource].flat()).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^DataTable/), 'Arn'] }]);
    const key = statements(name).find((st) => actionsOf(st).includes('kms:Encrypt'))!;
    expect(key.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 'dynamodb.eu-central-1.amazonaws.com' },
    });
  });

  /** The stack's sealing secret: every function that keeps authenticated table records reads it. */
  const SEALING_SECRET = {
    Ref: expect.stringMatching(/^ProxySealingSecret/),
  };

  it('lets login, and only login, read the identity provider’s client secret', () => {
    expect(resourcesAllowed(statements('login'), 'secretsmanager:GetSecretValue')).toEqual([
      IDP_SECRET,
      SEALING_SECRET,
    ]);
    for (const name of ['connect', 'callback', 'cimd']) {
      expect(resourcesAllowed(statements(name), 'secretsmanager:GetSecretValue'), name).not.toContain(
        IDP_SECRET,
      );
    }
  });

  it('keeps login out of the vault', () => {
    expect(statements('login').filter((st) => actionsOf(st).includes('kms:GenerateDataKey'))).toEqual([]);
    expect(
      statements('login').filter((st) => actionsOf(st).includes('kms:Decrypt') && !st.Condition),
    ).toEqual([]);
  });

  it.each(['connect', 'callback'])(
    '%s may read exactly the routes’ upstream client secrets and the sealing secret',
    (name) => {
      expect(resourcesAllowed(statements(name), 'secretsmanager:GetSecretValue')).toEqual([
        TOOLS_SECRET,
        SEALING_SECRET,
      ]);
    },
  );
});

describe('vault key statement (connect, proxy; the callback’s in callback-role.test.ts)', () => {
  const vaultStatement = (name: string) => {
    const vault = roleStatements(s.gatewayTemplate, name).filter((st) =>
      actionsOf(st).includes('kms:GenerateDataKey'),
    );
    expect(vault, name).toHaveLength(1);
    return vault[0]!;
  };
  /** The pseudo-user functions/core/store/registrations.ts seals dynamic registrations' secrets under. */
  const REGISTRATION_USER = '(dynamic client registration)';
  const ORIGIN = `https://${HOSTS[0]}`;
  const ISSUER = 'https://as.upstream.example.net';

  it.each(['connect', 'proxy'])(
    '%s gets data keys from the table key only, only under the full vault context, for this deployment’s routes',
    (name) => {
      const vault = vaultStatement(name);
      // Sorted: @aws-cdk/aws-iam:minimizePolicies (cdk.json).
      expect(actionsOf(vault)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      expect(vault.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] });
      expect(vault.Condition).toEqual({
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

  it.each([
    ['a user’s tokens on a configured route', { route: ORIGIN, user: 'user-sub-1', issuer: ISSUER }, true],
    [
      'a dynamic registration’s secret (the registrations pseudo-user)',
      { route: ORIGIN, user: REGISTRATION_USER, issuer: ISSUER },
      true,
    ],
    ['another deployment’s route', { route: 'https://mcp.other.org', user: 'u', issuer: ISSUER }, false],
    ['a route written differently', { route: `${ORIGIN}/`, user: 'u', issuer: ISSUER }, false],
    ['no issuer', { route: ORIGIN, user: 'u' }, false],
    ['an extra context key', { route: ORIGIN, user: 'u', issuer: ISSUER, purpose: 'x' }, false],
    ['an empty context', {}, false],
  ])('allows the KMS call for %s: %s', (_, context, allowed) => {
    for (const name of ['connect', 'proxy']) {
      expect(allowsEncryptionContext(vaultStatement(name), context), name).toBe(allowed);
    }
  });

  it('is the only way any function gets KMS data keys or plain decryption', () => {
    for (const name of ['cimd', 'login', 'connect', 'callback', 'authorization', 'proxy']) {
      const direct = roleStatements(s.gatewayTemplate, name).filter(
        (st) =>
          actionsOf(st).some((a) => a === 'kms:GenerateDataKey' || a === 'kms:Decrypt') &&
          !(st.Condition?.StringEquals && 'kms:ViaService' in st.Condition.StringEquals),
      );
      // The callback's two: sealing people's tokens, opening registrations' secrets.
      expect(direct.length, name).toBe({ connect: 1, callback: 2, proxy: 1 }[name] ?? 0);
    }
  });
});

describe('origin-verify secret', () => {
  it('is one generated Secrets Manager secret shared by all routes; its value is not in the template', () => {
    const origin = Object.entries(s.gatewayTemplate.findResources('AWS::SecretsManager::Secret')).filter(
      ([id]) => id.startsWith('OriginVerify'),
    );
    expect(origin).toHaveLength(1);
    const [, secret] = origin[0]! as [string, { Properties: Record<string, unknown> }];
    expect(secret.Properties.GenerateSecretString).toMatchObject({
      PasswordLength: 48,
      ExcludePunctuation: true,
    });
    expect(secret.Properties.SecretString).toBeUndefined();
  });

  it('is one of two secrets the stack creates; the other is the proxy’s sealing secret', () => {
    expect(Object.keys(s.gatewayTemplate.findResources('AWS::SecretsManager::Secret')).sort()).toEqual([
      expect.stringMatching(/^OriginVerifySecret/),
      expect.stringMatching(/^ProxySealingSecret/),
    ]);
  });
});
