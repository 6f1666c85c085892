import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/parse.ts';
import { defaultCognitoDomainPrefix } from '../../lib/config-checks.ts';
import { DEPLOYMENT_NAME_MAX_LENGTH, deploymentNames } from '../../lib/deployment-names.ts';
import { unacknowledgedFindings } from './nag.ts';
import { readFixture, synthesize } from './synth.ts';
import { FIRST, SECOND, stacksOf, synthesizeTwoDeployments } from './two-deployments.ts';

/**
 * Several deployments per account and region (issue 9 item 10): `deploymentName` prefixes every
 * name a deployment gives its resources, and without it every name is what a single deployment
 * always had.
 */

type Resource = { Type: string; Properties?: Record<string, unknown> };

/**
 * Where each resource type keeps a name that identifies it in the account (or, for CloudFront, in
 * all of AWS): two deployments may not share one. Types CloudFormation names when the template
 * does not (tables, functions, log groups, roles, secrets, topics, aliases) are listed too, so
 * giving one a name makes it take part in the check.
 */
const PHYSICAL_NAMES: Readonly<Record<string, readonly string[]>> = {
  'AWS::ApiGateway::DomainName': ['DomainName'],
  'AWS::ApiGateway::RestApi': ['Name'],
  'AWS::CloudFront::CachePolicy': ['CachePolicyConfig.Name'],
  'AWS::CloudFront::Distribution': ['DistributionConfig.Aliases'],
  'AWS::CloudFront::OriginRequestPolicy': ['OriginRequestPolicyConfig.Name'],
  'AWS::CloudFront::ResponseHeadersPolicy': ['ResponseHeadersPolicyConfig.Name'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::Cognito::UserPool': ['UserPoolName'],
  'AWS::Cognito::UserPoolClient': ['ClientName'],
  'AWS::Cognito::UserPoolDomain': ['Domain'],
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::KMS::Alias': ['AliasName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::Route53::RecordSet': ['Name'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::WAFv2::WebACL': ['Name'],
};

/** Name-like properties that do not name their resource in the account, each with why. */
const NOT_PHYSICAL_NAMES: Readonly<Record<string, readonly string[]>> = {
  // Any number of certificates may be issued for one domain.
  'AWS::CertificateManager::Certificate': ['DomainName', 'DomainValidationOptions[].DomainName'],
  // A stage's name is scoped to its API, an inline policy's to its role.
  'AWS::ApiGateway::Stage': ['StageName'],
  'AWS::IAM::Policy': ['PolicyName'],
  // The header CloudFront sends to the origin.
  'AWS::CloudFront::Distribution': ['DistributionConfig.Origins[].OriginCustomHeaders[].HeaderName'],
  // Metrics and dimensions an alarm watches.
  'AWS::CloudWatch::Alarm': [
    'Dimensions[].Name',
    'MetricName',
    'Metrics[].MetricStat.Metric.Dimensions[].Name',
    'Metrics[].MetricStat.Metric.MetricName',
  ],
  // Attribute and recovery-mechanism names inside the pool and the table.
  'AWS::Cognito::UserPool': ['AccountRecoverySetting.RecoveryMechanisms[].Name', 'Schema[].Name'],
  // What an alarm email's subject shows.
  'AWS::SNS::Topic': ['DisplayName'],
  'AWS::DynamoDB::Table': [
    'AttributeDefinitions[].AttributeName',
    'KeySchema[].AttributeName',
    'TimeToLiveSpecification.AttributeName',
  ],
  // Rule and metric names inside the web ACL (scoped to it) and the managed rule groups it uses.
  'AWS::WAFv2::WebACL': [
    'Rules[].Name',
    'Rules[].Statement.ManagedRuleGroupStatement.Name',
    'Rules[].Statement.ManagedRuleGroupStatement.RuleActionOverrides[].Name',
    'Rules[].Statement.ManagedRuleGroupStatement.VendorName',
    'Rules[].VisibilityConfig.MetricName',
    'VisibilityConfig.MetricName',
  ],
};

/**
 * Every literal value of a name-like property (`…Name`, `Domain`, `Aliases`) in a stack's
 * resources, by type and property path (array positions as `[]`); values inside intrinsic
 * functions (references to other resources or stacks) are not this resource's names.
 */
function nameProperties(stack: Stack): { type: string; path: string; values: string[] }[] {
  const found: { type: string; path: string; values: string[] }[] = [];
  const walk = (value: unknown, path: string, type: string) => {
    if (!value || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' || key.startsWith('Fn::')) continue;
      const at = Array.isArray(value) ? `${path}[]` : path ? `${path}.${key}` : key;
      if (!Array.isArray(value) && /Name$|^Domain$|^Aliases$/.test(key)) {
        const values = [inner].flat().filter((v): v is string => typeof v === 'string');
        if (values.length > 0) found.push({ type, path: at, values });
      }
      walk(inner, at, type);
    }
  };
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  for (const resource of Object.values(resources)) walk(resource.Properties, '', resource.Type);
  return found;
}

/** A deployment's names in its account: stack names, and the resources' physical names. */
function physicalNames(stacks: readonly Stack[]): string[] {
  const names = stacks.map((stack) => `stack ${stack.region} ${stack.stackName}`);
  for (const stack of stacks) {
    for (const { type, path, values } of nameProperties(stack)) {
      if (PHYSICAL_NAMES[type]?.includes(path)) names.push(...values.map((v) => `${type} ${path} ${v}`));
    }
  }
  return names;
}

const two = synthesizeTwoDeployments();
const first = stacksOf(two.first);
const second = stacksOf(two.second);
const all = [...first, ...second];
const resourcesOf = (stack: Stack) =>
  Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>);

describe('two deployments side by side in one app', () => {
  it('classifies every name-like property of every resource (a new one needs a look)', () => {
    const unclassified = all
      .flatMap(nameProperties)
      .filter(
        ({ type, path }) =>
          !PHYSICAL_NAMES[type]?.includes(path) && !NOT_PHYSICAL_NAMES[type]?.includes(path),
      )
      .map(({ type, path }) => `${type} ${path}`);
    expect([...new Set(unclassified)]).toEqual([]);
  });

  it('share no stack name and no physical name', () => {
    const a = physicalNames(first);
    const b = physicalNames(second);
    expect(a.length).toBeGreaterThan(20);
    expect(b.length).toBeGreaterThan(20);
    expect(a.filter((name) => b.includes(name))).toEqual([]);
  });

  it('set the account’s API Gateway CloudWatch role once: the second deployment leaves it alone', () => {
    const accounts = (stacks: Stack[]) =>
      stacks.flatMap(resourcesOf).filter((r) => r.Type === 'AWS::ApiGateway::Account').length;
    expect(accounts(first)).toBe(1);
    expect(accounts(second)).toBe(0);
    const roles = second
      .flatMap(resourcesOf)
      .filter((r) => JSON.stringify(r.Properties ?? {}).includes('AmazonAPIGatewayPushToCloudWatchLogs'));
    expect(roles).toEqual([]);
  });

  it('still logs the second deployment’s API: access log and error logging on its stage', () => {
    const stage = resourcesOf(two.second.gateway).find((r) => r.Type === 'AWS::ApiGateway::Stage')!;
    expect(stage.Properties).toMatchObject({
      AccessLogSetting: { DestinationArn: expect.anything() },
      MethodSettings: expect.arrayContaining([expect.objectContaining({ LoggingLevel: 'ERROR' })]),
    });
  });

  it('give no explicit name to what CloudFormation names after the stack (table, functions, log groups, roles, secrets)', () => {
    const explicit = all.flatMap(resourcesOf).filter((r) => {
      const key = {
        'AWS::DynamoDB::Table': 'TableName',
        'AWS::Lambda::Function': 'FunctionName',
        'AWS::Logs::LogGroup': 'LogGroupName',
        'AWS::IAM::Role': 'RoleName',
        'AWS::SecretsManager::Secret': 'Name',
        'AWS::SNS::Topic': 'TopicName',
      }[r.Type];
      return key !== undefined && r.Properties?.[key] !== undefined;
    });
    expect(explicit).toEqual([]);
  });

  it('pass cdk-nag together', () => {
    expect(unacknowledgedFindings(two.app)).toEqual([]);
  });
});

describe('a named deployment', () => {
  const names = physicalNames(second);
  const nameValue = (name: string) => name.split(' ').at(-1)!;

  it('prefixes its stacks, API, user pool and client, alarms, dashboard and web ACL with the name', () => {
    expect(second.map((s) => s.stackName).sort()).toEqual([
      'team-b-McpEdgeCertificates',
      'team-b-McpEdgeGateway',
      'team-b-McpEdgeProtection',
    ]);
    const prefixed = [
      'AWS::ApiGateway::RestApi Name',
      'AWS::Cognito::UserPool UserPoolName',
      'AWS::Cognito::UserPoolClient ClientName',
      'AWS::CloudWatch::Alarm AlarmName',
      'AWS::CloudWatch::Dashboard DashboardName',
      'AWS::WAFv2::WebACL Name',
    ];
    for (const kind of prefixed) {
      const values = names.filter((n) => n.startsWith(`${kind} `)).map(nameValue);
      expect(values.length, kind).toBeGreaterThan(0);
      for (const value of values) expect(value, kind).toMatch(/^team-b-/);
    }
  });

  it('takes the name into the CloudFront policies’ generated names (CloudFront names are global)', () => {
    const policies = names.filter((n) => /CloudFront::\w+Policy /.test(n)).map(nameValue);
    expect(policies).toHaveLength(3);
    for (const value of policies) expect(value).toMatch(/^teambMcpEdgeGateway/);
  });

  it('gets its own default Cognito domain prefix, from account, region and name', () => {
    expect(names).toContain(
      `AWS::Cognito::UserPoolDomain Domain ${defaultCognitoDomainPrefix('111122223333', 'eu-central-1', 'team-b')}`,
    );
    expect(defaultCognitoDomainPrefix('111122223333', 'eu-central-1', 'team-b')).not.toBe(
      defaultCognitoDomainPrefix('111122223333', 'eu-central-1'),
    );
  });

  it('changes names only: the same resources, by logical ID and type, as without a name', () => {
    const { deploymentName: _, ...unnamed } = SECOND;
    const plain = synthesize(unnamed);
    // CDK derives these two's logical IDs from the REST API's construct path, which starts with
    // the stack's: compared by type and count only.
    const pathDerived = new Set(['AWS::Lambda::Permission', 'AWS::ApiGateway::Deployment']);
    const shape = (stacks: Stack[]) =>
      stacks.map((stack) =>
        Object.entries(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>)
          .map(([id, r]) => (pathDerived.has(r.Type) ? r.Type : `${id} ${r.Type}`))
          .sort(),
      );
    expect(shape(second)).toEqual(shape([plain.certificates, plain.protection, plain.gateway]));
  });
});

describe('a deployment without deploymentName', () => {
  it('keeps the names a single deployment always had, so updating it replaces nothing', () => {
    expect(deploymentNames(undefined)).toEqual({
      certificatesStack: 'McpEdgeCertificates',
      protectionStack: 'McpEdgeProtection',
      gatewayStack: 'McpEdgeGateway',
      restApi: 'McpEdgeGateway',
      userPool: 'mcp-edge',
      userPoolClient: 'mcp-edge-login',
      service: 'mcp-edge',
    });
    const names = physicalNames(first);
    for (const name of [
      'stack us-east-1 McpEdgeCertificates',
      'stack eu-central-1 McpEdgeGateway',
      'AWS::ApiGateway::RestApi Name McpEdgeGateway',
      'AWS::Cognito::UserPool UserPoolName mcp-edge',
      'AWS::Cognito::UserPoolClient ClientName mcp-edge-login',
      'AWS::Cognito::UserPoolDomain Domain example-mcp-edge',
      'AWS::CloudFront::OriginRequestPolicy OriginRequestPolicyConfig.Name McpEdgeGatewayEdgePoliciesHostOnlyD978AC62',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('keeps the default Cognito domain prefix of account and region alone', () => {
    const { idp: _, ...defaultPool } = readFixture('infra-cognito.config.json');
    synthesize(defaultPool).gatewayTemplate.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      Domain: defaultCognitoDomainPrefix('111122223333', 'eu-central-1'),
    });
    // The value every deployment made so far got: mcp-edge- and 12 hex digits of SHA-256("account/region").
    expect(defaultCognitoDomainPrefix('111122223333', 'eu-central-1')).toBe('mcp-edge-2dc9855af2f5');
  });

  it('sets the account’s API Gateway CloudWatch role, retained, unless aws.apiGatewayCloudWatchRole is false', () => {
    const on = synthesize(FIRST).gatewayTemplate;
    on.resourceCountIs('AWS::ApiGateway::Account', 1);
    on.hasResource('AWS::ApiGateway::Account', { DeletionPolicy: 'Retain' });
    const off = synthesize({ ...FIRST, aws: { ...FIRST.aws!, apiGatewayCloudWatchRole: false } });
    off.gatewayTemplate.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('deploymentName in the config', () => {
  const config = (deploymentName: unknown) =>
    parseConfig({ ...readFixture('infra-cognito.config.json'), deploymentName } as never);

  it.each(['a', 'team-b', 'prod2', 'a-b-c', 'x'.repeat(DEPLOYMENT_NAME_MAX_LENGTH)])('accepts %s', (name) => {
    expect(config(name).ok).toBe(true);
  });

  it.each([
    '',
    'Team',
    '2team',
    '-team',
    'team-',
    'team--b',
    'team_b',
    'team.b',
    'x'.repeat(DEPLOYMENT_NAME_MAX_LENGTH + 1),
  ])('refuses %j, naming the key', (name) => {
    const parsed = config(name);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.errors.join('\n')).toMatch(/^deploymentName: /m);
  });

  it('keeps every name of the longest deploymentName within its AWS limit', () => {
    const longest = 'x'.repeat(DEPLOYMENT_NAME_MAX_LENGTH);
    const names = deploymentNames(longest);
    // CloudFormation stack names: 128, letters, digits, hyphens, starting with a letter.
    for (const stack of [names.certificatesStack, names.protectionStack, names.gatewayStack]) {
      expect(stack).toMatch(/^[A-Za-z][A-Za-z0-9-]{0,127}$/);
    }
    // Cognito user pool and app client names: 128; AWS WAF web ACL names: 128.
    for (const name of [names.userPool, names.userPoolClient, names.service]) {
      expect(name.length).toBeLessThanOrEqual(128);
    }
    // The generated table name, `{stack}-DataTable{8 hex}-{up to 13}`, within the 64 characters the
    // functions' environment budget counts (test/infra/authorization.test.ts).
    expect(`${names.gatewayStack}-DataTable12345678-ABCDEFGHIJKLM`.length).toBeLessThanOrEqual(64);
    // Alarm names (`{service}-{alarm}`) and dashboard names: 255.
    const s = synthesize({ ...SECOND, deploymentName: longest });
    const alarms = resourcesOf(s.gateway)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => String(r.Properties?.AlarmName));
    expect(alarms.length).toBeGreaterThan(0);
    for (const name of alarms) expect(name.length).toBeLessThanOrEqual(255);
  });
});
