import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/parse.ts';
import type { GatewayConfigInput } from '../../functions/core/config/schema.ts';
import { endpointFunctions } from '../../functions/core/endpoints.ts';
import { ALARM_THRESHOLDS } from '../../lib/monitoring.ts';
import { unacknowledgedFindings } from './nag.ts';
import { REPO_ROOT, readFixture, type Synthesized, synthesize } from './synth.ts';

const FIXTURE = readFixture('infra-three-routes.config.json');
const TOPIC_ARN = 'arn:aws:sns:eu-central-1:111122223333:ops-alarms';
const EDGE_TOPIC_ARN = 'arn:aws:sns:us-east-1:111122223333:ops-alarms';

type AlarmProperties = Record<string, unknown> & {
  AlarmName: string;
  AlarmActions?: unknown[];
  OKActions?: unknown[];
  Metrics?: {
    Id: string;
    Expression?: string;
    MetricStat?: { Metric: Record<string, unknown>; Stat: string };
  }[];
};

function alarms(template: Template): Map<string, AlarmProperties> {
  return new Map(
    Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((r) => {
      const properties = (r as { Properties: AlarmProperties }).Properties;
      return [properties.AlarmName, properties];
    }),
  );
}

const protectionOf = (s: Synthesized) => Template.fromStack(s.protection);

describe('alarms without notification settings', () => {
  let s: Synthesized;
  let gateway: Map<string, AlarmProperties>;
  beforeAll(() => {
    s = synthesize(FIXTURE);
    gateway = alarms(s.gatewayTemplate);
  });

  it('has one alarm per concern and function in the gateway region, and the WAF alarm in us-east-1', () => {
    const functions = endpointFunctions();
    expect([...gateway.keys()].sort()).toEqual(
      [
        'mcp-edge-api-5xx-rate',
        ...functions.flatMap((f) => [`mcp-edge-${f}-errors`, `mcp-edge-${f}-throttles`]),
        'mcp-edge-table-throttles',
        'mcp-edge-refresh-failures',
        'mcp-edge-proxy-latency-p99',
      ].sort(),
    );
    expect([...alarms(protectionOf(s)).keys()]).toEqual(['mcp-edge-waf-blocked-requests']);
  });

  it('creates no SNS topic and gives the alarms no actions', () => {
    s.gatewayTemplate.resourceCountIs('AWS::SNS::Topic', 0);
    protectionOf(s).resourceCountIs('AWS::SNS::Topic', 0);
    for (const alarm of [...gateway.values(), ...alarms(protectionOf(s)).values()]) {
      expect(alarm.AlarmActions, alarm.AlarmName).toBeUndefined();
    }
  });

  it('alarms on a 5xx share of at least 5% in 2 of 3 five-minute periods with 20 requests or more', () => {
    const alarm = gateway.get('mcp-edge-api-5xx-rate')!;
    expect(alarm).toMatchObject({
      Threshold: ALARM_THRESHOLDS.apiServerErrorPercent,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
    const byId = new Map(alarm.Metrics!.map((m) => [m.Id, m]));
    expect(alarm.Metrics!.find((m) => m.Expression)!.Expression).toBe(
      'IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)',
    );
    for (const [id, metricName] of [
      ['errors', '5XXError'],
      ['requests', 'Count'],
    ] as const) {
      expect(byId.get(id)!.MetricStat).toMatchObject({
        Metric: {
          Namespace: 'AWS/ApiGateway',
          MetricName: metricName,
          Dimensions: [{ Name: 'ApiName', Value: 'McpEdgeGateway' }],
        },
        Period: 300,
        Stat: 'Sum',
      });
    }
  });

  it.each(endpointFunctions())('alarms on any error or throttle of the %s function', (name) => {
    for (const [suffix, metricName] of [
      ['errors', 'Errors'],
      ['throttles', 'Throttles'],
    ]) {
      expect(gateway.get(`mcp-edge-${name}-${suffix}`)).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: metricName,
        Dimensions: [
          {
            Name: 'FunctionName',
            Value: { Ref: expect.stringMatching(new RegExp(`^${name}Function`, 'i')) },
          },
        ],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('alarms on any read or write throttle event of the table', () => {
    const alarm = gateway.get('mcp-edge-table-throttles')!;
    expect(alarm.Threshold).toBe(ALARM_THRESHOLDS.tableThrottleEvents);
    expect(alarm.Metrics!.find((m) => m.Expression)!.Expression).toBe('FILL(reads, 0) + FILL(writes, 0)');
    const names = alarm.Metrics!.filter((m) => m.MetricStat).map((m) => m.MetricStat!.Metric);
    expect(names).toEqual([
      {
        Namespace: 'AWS/DynamoDB',
        MetricName: 'ReadThrottleEvents',
        Dimensions: [{ Name: 'TableName', Value: { Ref: expect.stringMatching(/^DataTable/) } }],
      },
      {
        Namespace: 'AWS/DynamoDB',
        MetricName: 'WriteThrottleEvents',
        Dimensions: [{ Name: 'TableName', Value: { Ref: expect.stringMatching(/^DataTable/) } }],
      },
    ]);
  });

  it('alarms on failed upstream refreshes and the proxy’s p99 latency from the functions’ own metrics', () => {
    expect(gateway.get('mcp-edge-refresh-failures')).toMatchObject({
      Namespace: 'McpEdge',
      MetricName: 'RefreshFailures',
      Dimensions: [{ Name: 'service', Value: 'mcp-edge' }],
      Statistic: 'Sum',
      Threshold: ALARM_THRESHOLDS.refreshFailures,
    });
    expect(gateway.get('mcp-edge-proxy-latency-p99')).toMatchObject({
      Namespace: 'McpEdge',
      MetricName: 'ProxyLatency',
      Dimensions: [{ Name: 'service', Value: 'mcp-edge' }],
      ExtendedStatistic: 'p99',
      Threshold: 5000,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
    });
  });

  it('alarms in us-east-1 on the requests AWS WAF blocked', () => {
    expect(alarms(protectionOf(s)).get('mcp-edge-waf-blocked-requests')).toMatchObject({
      Namespace: 'AWS/WAFV2',
      MetricName: 'BlockedRequests',
      Dimensions: [
        { Name: 'Rule', Value: 'ALL' },
        { Name: 'WebACL', Value: 'mcp-edge' },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: ALARM_THRESHOLDS.wafBlockedRequests,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('builds one dashboard with the alarms and every metric the operations section names', () => {
    const dashboards = Object.values(s.gatewayTemplate.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const properties = (dashboards[0] as { Properties: { DashboardName: string; DashboardBody: unknown } })
      .Properties;
    expect(properties.DashboardName).toBe('mcp-edge');
    // The body is a Fn::Join of JSON text and the alarms' ARNs: the text parts are enough here.
    const parts = (properties.DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    const text = parts.filter((p) => typeof p === 'string').join('');
    const widgets = JSON.parse(
      parts.map((p) => (typeof p === 'string' ? p : 'arn:aws:cloudwatch:eu-central-1:1:alarm:x')).join(''),
    ).widgets as { type: string; properties: { title: string; metrics?: unknown[][] } }[];
    expect(widgets[0]!.type).toBe('alarm');
    const metricRows = widgets.flatMap((w) => w.properties.metrics ?? []);
    const has = (namespace: string, name: string, stat?: string, region?: string) =>
      metricRows.some(
        (row) =>
          row[0] === namespace &&
          row[1] === name &&
          (stat === undefined || JSON.stringify(row.at(-1)).includes(`"stat":"${stat}"`)) &&
          (region === undefined || JSON.stringify(row.at(-1)).includes(`"region":"${region}"`)),
      );
    for (const name of ['TokensIssued', 'ProxiedCalls', 'Refusals', 'RefreshFailures', 'UpstreamErrors']) {
      expect(has('McpEdge', name, 'Sum'), name).toBe(true);
    }
    for (const stat of ['p50', 'p99']) {
      expect(has('McpEdge', 'UpstreamLatency', stat), `UpstreamLatency ${stat}`).toBe(true);
      expect(has('McpEdge', 'ProxyLatency', stat), `ProxyLatency ${stat}`).toBe(true);
    }
    expect(has('AWS/WAFV2', 'BlockedRequests', 'Sum', 'us-east-1')).toBe(true);
    expect(has('AWS/ApiGateway', '5XXError')).toBe(true);
    expect(has('AWS/DynamoDB', 'ReadThrottleEvents')).toBe(true);
    for (const name of endpointFunctions()) expect(text).toContain(`"label":"${name}"`);
  });
});

describe('alarms with alarms.email', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize({ ...FIXTURE, alarms: { email: 'ops@example.com', proxyLatencyP99Ms: 2500 } });
  });

  it.each(['gateway', 'protection'] as const)(
    'creates a KMS-encrypted topic with the email subscription in the %s stack',
    (which) => {
      const template = which === 'gateway' ? s.gatewayTemplate : protectionOf(s);
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlarmNotificationsKey'), 'Arn'] },
      });
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'ops@example.com',
      });
      template.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            }),
          ]),
        },
      });
      // CloudWatch may publish for this account's alarms in this region, over TLS only.
      const region = which === 'gateway' ? 'eu-central-1' : 'us-east-1';
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Condition: {
                StringEquals: { 'aws:SourceAccount': '111122223333' },
                ArnLike: {
                  // The partition as a literal: @aws-cdk/core:enablePartitionLiterals (cdk.json).
                  'aws:SourceArn': `arn:aws:cloudwatch:${region}:111122223333:alarm:*`,
                },
              },
            }),
          ]),
        },
      });
      for (const alarm of alarms(template).values()) {
        const topic = { Ref: expect.stringMatching(/^AlarmNotificationsTopic/) };
        expect(alarm.AlarmActions, alarm.AlarmName).toEqual([topic]);
        expect(alarm.OKActions, alarm.AlarmName).toEqual([topic]);
      }
    },
  );

  it('takes the proxy latency threshold from the config', () => {
    expect(alarms(s.gatewayTemplate).get('mcp-edge-proxy-latency-p99')!.Threshold).toBe(2500);
  });

  it('leaves no cdk-nag finding (topic encryption, TLS-only publishing, key rotation)', () => {
    expect(unacknowledgedFindings(s.app)).toEqual([]);
  });

  // cli-synth.test.ts lints the fixture without alarms; this lints the topics, keys and policies.
  it.skipIf(spawnSync('cfn-lint', ['--version']).status !== 0)(
    'writes templates cfn-lint accepts',
    { timeout: 120_000 },
    () => {
      const assembly = s.app.synth();
      const templates = [s.gateway, s.protection].map((stack) =>
        join(assembly.directory, stack.templateFile),
      );
      // W3005: CDK's DependsOn beside a GetAtt on every Lambda function (see cli-synth.test.ts).
      const result = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--', ...templates], {
        encoding: 'utf8',
        timeout: 110_000,
      });
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    },
  );
});

describe('alarms with existing topics', () => {
  it('notifies alarms.topicArn from the gateway and alarms.edgeTopicArn from us-east-1, creating no topic', () => {
    const s = synthesize({ ...FIXTURE, alarms: { topicArn: TOPIC_ARN, edgeTopicArn: EDGE_TOPIC_ARN } });
    s.gatewayTemplate.resourceCountIs('AWS::SNS::Topic', 0);
    protectionOf(s).resourceCountIs('AWS::SNS::Topic', 0);
    for (const alarm of alarms(s.gatewayTemplate).values()) expect(alarm.AlarmActions).toEqual([TOPIC_ARN]);
    for (const alarm of alarms(protectionOf(s)).values())
      expect(alarm.AlarmActions).toEqual([EDGE_TOPIC_ARN]);
  });

  it('lets one us-east-1 topic serve both stacks when the gateway runs in us-east-1', () => {
    const s = synthesize({
      ...FIXTURE,
      aws: { account: '111122223333', region: 'us-east-1' },
      alarms: { topicArn: EDGE_TOPIC_ARN },
    });
    for (const template of [s.gatewayTemplate, protectionOf(s)]) {
      for (const alarm of alarms(template).values()) expect(alarm.AlarmActions).toEqual([EDGE_TOPIC_ARN]);
    }
  });
});

describe('alarms in the config', () => {
  const parse = (config: Partial<GatewayConfigInput>) => parseConfig({ ...FIXTURE, ...config } as never);

  it.each([
    [
      { alarms: { topicArn: 'arn:aws:sns:eu-west-1:111122223333:a', edgeTopicArn: EDGE_TOPIC_ARN } },
      "alarms.topicArn: is a topic in eu-west-1, but the gateway's alarms are in aws.region (eu-central-1)",
    ],
    [{ alarms: { edgeTopicArn: TOPIC_ARN } }, 'alarms.edgeTopicArn: must be a topic in us-east-1'],
    [{ alarms: { topicArn: TOPIC_ARN } }, 'alarms.edgeTopicArn: is needed with a topicArn outside us-east-1'],
    [
      { alarms: { topicArn: 'arn:aws:sns:eu-central-1:111122223333:a.fifo' } },
      'alarms.topicArn: must be the ARN',
    ],
    [{ alarms: { email: 'not an address' } }, 'alarms.email: must be an email address'],
    [{ alarms: { proxyLatencyP99Ms: 50 } }, 'alarms.proxyLatencyP99Ms: must be at least 100 ms'],
  ])('refuses %j, naming the key and the fix', (config, message) => {
    const parsed = parse(config as Partial<GatewayConfigInput>);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.errors.join('\n')).toContain(message);
  });

  it('accepts a topicArn outside us-east-1 with an email (the deployment creates the us-east-1 topic)', () => {
    expect(parse({ alarms: { topicArn: TOPIC_ARN, email: 'ops@example.com' } }).ok).toBe(true);
  });
});

describe('README', () => {
  const readme = readFileSync(resolve(REPO_ROOT, 'README.md'), 'utf8');
  const operations = readme.slice(
    readme.indexOf('\n## Operations'),
    readme.indexOf('\n## ', readme.indexOf('\n## Operations') + 1),
  );

  it('has an Operations section that explains every alarm', () => {
    expect(operations.length).toBeGreaterThan(1000);
    for (const suffix of [
      'api-5xx-rate',
      '{function}-errors',
      '{function}-throttles',
      'table-throttles',
      'refresh-failures',
      'proxy-latency-p99',
      'waf-blocked-requests',
    ]) {
      expect(operations, suffix).toContain(`\`{service}-${suffix}\``);
    }
  });
});
