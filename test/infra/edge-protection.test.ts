import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/parse.ts';
import { PROTECTION_DEFAULTS } from '../../functions/core/config/schema.ts';
import { ENDPOINTS } from '../../functions/core/endpoints.ts';
import { ENTRY_POINT_THROTTLING, THROTTLING } from '../../lib/defaults.ts';
import { COMMON_RULES_COUNTED } from '../../lib/waf.ts';
import { readFixture, type Synthesized, synthesize } from './synth.ts';

/** The endpoint table's `entry` rows, as API Gateway and AWS WAF see them. */
const ENTRY_PATHS = ENDPOINTS.filter((e) => e.throttling === 'entry').map((e) => e.path as string);

/** The parts of AWS::WAFv2::WebACL's statements these tests read. */
interface Statement {
  ByteMatchStatement?: {
    FieldToMatch: unknown;
    PositionalConstraint: string;
    SearchString: string;
    TextTransformations: { Priority: number; Type: string }[];
  };
  OrStatement?: { Statements: Statement[] };
  RateBasedStatement?: {
    Limit: number;
    AggregateKeyType: string;
    EvaluationWindowSec: number;
    ScopeDownStatement?: Statement;
  };
  ManagedRuleGroupStatement?: {
    VendorName: string;
    Name: string;
    RuleActionOverrides?: { Name: string; ActionToUse: unknown }[];
  };
}
type Rule = {
  Name: string;
  Priority: number;
  Action?: Record<string, unknown>;
  OverrideAction?: Record<string, unknown>;
  Statement: Statement;
  VisibilityConfig: {
    CloudWatchMetricsEnabled: boolean;
    MetricName: string;
    SampledRequestsEnabled: boolean;
  };
};
type WebAclProperties = {
  Name: string;
  Scope: string;
  DefaultAction: unknown;
  Rules: Rule[];
  CustomResponseBodies: Record<string, { ContentType: string; Content: string }>;
  VisibilityConfig: Rule['VisibilityConfig'];
};

function webAclOf(template: Template): { id: string; properties: WebAclProperties } {
  const found = Object.entries(template.findResources('AWS::WAFv2::WebACL'));
  expect(found).toHaveLength(1);
  const [id, resource] = found[0]!;
  return { id, properties: (resource as { Properties: WebAclProperties }).Properties };
}
const ruleNamed = (acl: WebAclProperties, name: string) => acl.Rules.find((r) => r.Name === name)!;

/**
 * Whether the entry-point rule's scope-down statement matches a request path, evaluated the way
 * AWS WAF does: each byte match's text transformations, then its positional constraint.
 */
function entryRuleMatches(acl: WebAclProperties, path: string): boolean {
  const scopeDown = ruleNamed(acl, 'EntryPointsPerIp').Statement.RateBasedStatement!.ScopeDownStatement!;
  const statements = scopeDown.OrStatement?.Statements ?? [scopeDown];
  return statements.some(({ ByteMatchStatement: match }) => {
    if (!match) throw new Error('the scope-down holds byte matches only');
    expect(match.FieldToMatch).toEqual({ UriPath: {} });
    let value = path;
    for (const t of [...match.TextTransformations].sort((a, b) => a.Priority - b.Priority)) {
      if (t.Type === 'URL_DECODE') value = decodeURIComponent(value);
      else throw new Error(`no evaluator for ${t.Type}`);
    }
    if (match.PositionalConstraint !== 'STARTS_WITH') throw new Error(match.PositionalConstraint);
    return value.startsWith(match.SearchString);
  });
}

let s: Synthesized;
let protection: Template;
let acl: WebAclProperties;
beforeAll(() => {
  s = synthesize(readFixture('infra-three-routes.config.json'));
  protection = Template.fromStack(s.protection);
  acl = webAclOf(protection).properties;
});

describe('the AWS WAF web ACL', () => {
  it('lives in its own us-east-1 stack, scope CLOUDFRONT, and lets through what no rule stops', () => {
    expect(s.protection.region).toBe('us-east-1');
    expect(s.protection.account).toBe('111122223333');
    expect(acl.Scope).toBe('CLOUDFRONT');
    expect(acl.DefaultAction).toEqual({ Allow: {} });
    expect(acl.Name).toBe('mcp-edge');
  });

  it('has the two rate rules first, then the known-bad-inputs and common rule sets', () => {
    expect(acl.Rules.map((r) => [r.Priority, r.Name])).toEqual([
      [0, 'EntryPointsPerIp'],
      [1, 'RequestsPerIp'],
      [2, 'KnownBadInputs'],
      [3, 'CommonRuleSet'],
    ]);
  });

  it('limits every client address over five minutes, by default to the documented budgets', () => {
    for (const [name, limit] of [
      ['RequestsPerIp', PROTECTION_DEFAULTS.requestsPerFiveMinutesPerIp],
      ['EntryPointsPerIp', PROTECTION_DEFAULTS.entryPointRequestsPerFiveMinutesPerIp],
    ] as const) {
      expect(ruleNamed(acl, name).Statement.RateBasedStatement).toMatchObject({
        Limit: limit,
        AggregateKeyType: 'IP',
        EvaluationWindowSec: 300,
      });
    }
    expect(ruleNamed(acl, 'RequestsPerIp').Statement.RateBasedStatement!.ScopeDownStatement).toBeUndefined();
  });

  it('answers a rate-limited client 429 with JSON naming rate_limited', () => {
    for (const name of ['RequestsPerIp', 'EntryPointsPerIp']) {
      expect(ruleNamed(acl, name).Action).toEqual({
        Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: 'rate-limited' } },
      });
    }
    const body = acl.CustomResponseBodies['rate-limited']!;
    expect(body.ContentType).toBe('APPLICATION_JSON');
    expect(JSON.parse(body.Content)).toMatchObject({ error: 'rate_limited' });
  });

  it.each(ENTRY_PATHS)(
    'counts %s (an entry row of the endpoint table) against the entry-point budget',
    (path) => {
      expect(entryRuleMatches(acl, path)).toBe(true);
      expect(entryRuleMatches(acl, `${path}/`)).toBe(true);
      expect(entryRuleMatches(acl, `${path}?client_id=x`)).toBe(true);
      // API Gateway decodes the path, so an encoded letter reaches the same function.
      expect(
        entryRuleMatches(
          acl,
          path.replace(/[a-z]$/, (c) => `%${c.charCodeAt(0).toString(16)}`),
        ),
      ).toBe(true);
    },
  );

  it.each([
    '/mcp',
    '/v1/mcp',
    '/.pomerium/logout',
    '/.pomerium/connect',
    '/.pomerium/connections',
    '/.pomerium/oauth/callback',
    '/.well-known/oauth-authorization-server',
    '/.well-known/mcp-client-metadata.json',
  ])('does not count %s against the entry-point budget', (path) => {
    expect(entryRuleMatches(acl, path)).toBe(false);
  });

  it('uses AWS’s known-bad-inputs rule set as it is', () => {
    expect(ruleNamed(acl, 'KnownBadInputs')).toMatchObject({
      OverrideAction: { None: {} },
      Statement: {
        ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesKnownBadInputsRuleSet' },
      },
    });
    expect(
      ruleNamed(acl, 'KnownBadInputs').Statement.ManagedRuleGroupStatement!.RuleActionOverrides,
    ).toBeUndefined();
  });

  it('uses AWS’s common rule set, with only the rules that would refuse OAuth and MCP traffic counting', () => {
    const common = ruleNamed(acl, 'CommonRuleSet');
    expect(common.OverrideAction).toEqual({ None: {} });
    expect(common.Statement.ManagedRuleGroupStatement).toMatchObject({
      VendorName: 'AWS',
      Name: 'AWSManagedRulesCommonRuleSet',
    });
    const overrides = common.Statement.ManagedRuleGroupStatement!.RuleActionOverrides!;
    expect(overrides.map((o) => o.Name).sort()).toEqual(Object.keys(COMMON_RULES_COUNTED).sort());
    for (const o of overrides) expect(o.ActionToUse).toEqual({ Count: {} });
    // The rules that break real clients: loopback redirect URIs (RFC 8252) in authorize queries,
    // token and registration bodies; MCP bodies past 8 KB or carrying HTML, paths or URLs.
    for (const rule of [
      'GenericRFI_QUERYARGUMENTS',
      'GenericRFI_BODY',
      'SizeRestrictions_BODY',
      'CrossSiteScripting_BODY',
    ]) {
      expect(COMMON_RULES_COUNTED[rule]!.length, rule).toBeGreaterThan(60);
    }
  });

  it('publishes CloudWatch metrics for the web ACL and each rule, and keeps no sampled requests (they hold bearer tokens and cookies)', () => {
    expect(acl.VisibilityConfig).toEqual({
      CloudWatchMetricsEnabled: true,
      MetricName: 'mcp-edge',
      SampledRequestsEnabled: false,
    });
    for (const rule of acl.Rules) {
      expect(rule.VisibilityConfig).toEqual({
        CloudWatchMetricsEnabled: true,
        MetricName: rule.Name,
        SampledRequestsEnabled: false,
      });
    }
  });

  it('takes the budgets from protection in the config', () => {
    const configured = synthesize({
      ...readFixture('infra-three-routes.config.json'),
      protection: { requestsPerFiveMinutesPerIp: 10_000, entryPointRequestsPerFiveMinutesPerIp: 50 },
    });
    const configuredAcl = webAclOf(Template.fromStack(configured.protection)).properties;
    expect(ruleNamed(configuredAcl, 'RequestsPerIp').Statement.RateBasedStatement!.Limit).toBe(10_000);
    expect(ruleNamed(configuredAcl, 'EntryPointsPerIp').Statement.RateBasedStatement!.Limit).toBe(50);
  });
});

describe('protection in the config', () => {
  const withProtection = (protection: unknown) =>
    parseConfig({ ...readFixture('infra-three-routes.config.json'), protection } as never);

  it.each([
    [{ requestsPerFiveMinutesPerIp: 9 }, 'protection.requestsPerFiveMinutesPerIp: must be at least 10'],
    [{ entryPointRequestsPerFiveMinutesPerIp: 1.5 }, 'protection.entryPointRequestsPerFiveMinutesPerIp:'],
    [
      { requestsPerFiveMinutesPerIp: 200 },
      'protection.entryPointRequestsPerFiveMinutesPerIp: is 300, more than requestsPerFiveMinutesPerIp (200)',
    ],
    [{ perIp: 100 }, 'protection'],
  ])('refuses %j, naming the key', (protection, message) => {
    const parsed = withProtection(protection);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.errors.join('\n')).toContain(message);
  });

  it('accepts budgets within AWS WAF’s bounds', () => {
    expect(
      withProtection({ requestsPerFiveMinutesPerIp: 200, entryPointRequestsPerFiveMinutesPerIp: 200 }).ok,
    ).toBe(true);
  });
});

describe('each route’s distribution', () => {
  it('uses the web ACL, read from the us-east-1 stack’s output with Fn::GetStackOutput', () => {
    const distributions = Object.values(s.gatewayTemplate.findResources('AWS::CloudFront::Distribution'));
    expect(distributions).toHaveLength(3);
    const webAclId = webAclOf(protection).id;
    const outputs = protection.toJSON().Outputs as Record<string, { Value: unknown }>;
    type GetStackOutput = { 'Fn::GetStackOutput': { StackName: string; Region: string; OutputName: string } };
    for (const d of distributions as { Properties: { DistributionConfig: { WebACLId: GetStackOutput } } }[]) {
      const ref = d.Properties.DistributionConfig.WebACLId['Fn::GetStackOutput'];
      expect(ref).toMatchObject({ StackName: s.protection.stackName, Region: 'us-east-1' });
      expect(outputs[ref.OutputName]!.Value).toEqual({ 'Fn::GetAtt': [webAclId, 'Arn'] });
    }
    expect(s.gateway.dependencies).toContain(s.protection);
  });
});

describe('API Gateway method throttling', () => {
  type MethodSetting = Record<string, unknown> & { ResourcePath: string; HttpMethod: string };
  let settings: MethodSetting[];
  beforeAll(() => {
    const stage = Object.values(s.gatewayTemplate.findResources('AWS::ApiGateway::Stage'))[0] as {
      Properties: { MethodSettings: MethodSetting[] };
    };
    settings = stage.Properties.MethodSettings;
  });
  // API Gateway's method setting paths escape every `/` of the resource path as `~1`.
  const encoded = (path: string) => `/${path.replaceAll('/', '~1')}`;

  it('keeps the stage-wide limit for every method', () => {
    expect(settings).toContainEqual(
      expect.objectContaining({
        ResourcePath: '/*',
        HttpMethod: '*',
        ThrottlingRateLimit: THROTTLING.rateLimit,
        ThrottlingBurstLimit: THROTTLING.burstLimit,
      }),
    );
  });

  it('throttles each method of the entry points lower, keeping error-only logging', () => {
    const expected = ENDPOINTS.filter((e) => e.throttling === 'entry').flatMap((e) =>
      e.methods.map((method) => ({
        ResourcePath: encoded(e.path as string),
        HttpMethod: method,
        ThrottlingRateLimit: ENTRY_POINT_THROTTLING.rateLimit,
        ThrottlingBurstLimit: ENTRY_POINT_THROTTLING.burstLimit,
        LoggingLevel: 'ERROR',
        DataTraceEnabled: false,
      })),
    );
    const sorted = (list: MethodSetting[]) =>
      [...list].sort((a, b) =>
        `${a.ResourcePath} ${a.HttpMethod}`.localeCompare(`${b.ResourcePath} ${b.HttpMethod}`),
      );
    expect(sorted(settings.filter((m) => m.ResourcePath !== '/*'))).toEqual(sorted(expected));
    expect(ENTRY_POINT_THROTTLING.rateLimit).toBeLessThan(THROTTLING.rateLimit);
    for (const path of [
      '/.pomerium/login',
      '/.pomerium/mcp/authorize',
      '/.pomerium/mcp/token',
      '/.pomerium/mcp/register',
    ]) {
      expect(
        settings.some((m) => m.ResourcePath === encoded(path)),
        path,
      ).toBe(true);
    }
  });

  it('leaves the MCP endpoint at the stage’s higher limit', () => {
    expect(
      settings.filter((m) => m.ResourcePath.endsWith('mcp') && !m.ResourcePath.includes('pomerium')),
    ).toEqual([]);
  });

  it('answers a throttled request 429 with JSON and the refusal header naming throttled', () => {
    s.gatewayTemplate.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
      ResponseParameters: Match.objectLike({
        'gatewayresponse.header.x-mcp-edge-refusal': "'throttled'",
        'gatewayresponse.header.Cache-Control': "'no-store'",
      }),
    });
    const response = Object.values(
      s.gatewayTemplate.findResources('AWS::ApiGateway::GatewayResponse'),
    )[0] as {
      Properties: { ResponseTemplates: Record<string, string> };
    };
    expect(JSON.parse(response.Properties.ResponseTemplates['application/json']!)).toMatchObject({
      error: 'throttled',
    });
  });
});
