import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { addMcpEdgeStacks } from '../../lib/mcp-edge-app.ts';
import { CDK_JSON_CONTEXT, deploymentOf, REPO_ROOT, readFixture } from './synth.ts';

/**
 * The CDK feature flags are pinned in cdk.json (issue 9 item 11): exactly the values `cdk init`
 * writes for the aws-cdk-lib version in package.json, so a library upgrade cannot change a
 * template behind the operator's back. Pinning them changed the templates of the deployments made
 * before (which ran with every flag unset) in place only; no stateful resource is replaced.
 */

type Resource = { Type: string; Properties?: Record<string, unknown> };

const RECOMMENDED = JSON.parse(
  readFileSync(resolve(REPO_ROOT, 'node_modules/aws-cdk-lib/recommended-feature-flags.json'), 'utf8'),
) as Record<string, unknown>;
const CLI_SETTINGS = ['notices', 'cli-telemetry'];

/** The Cognito fixture with alarm topics: every kind of resource a deployment has. */
const config = { ...readFixture('infra-cognito.config.json'), alarms: { email: 'ops@example.com' } };

function templates(context: Record<string, unknown>): Record<string, Record<string, Resource>> {
  const app = new App({
    context: { ...context, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const stacks = addMcpEdgeStacks(app, deploymentOf(config), { nag: false });
  app.synth();
  return Object.fromEntries(
    Object.entries(stacks).map(([key, stack]) => [
      key,
      Template.fromStack(stack).toJSON().Resources as Record<string, Resource>,
    ]),
  );
}

/**
 * Resource types that hold data, identity or a name clients use: they must keep their logical ID
 * and every property (the one exception, a key policy's partition, is an in-place update).
 */
const STATEFUL = [
  'AWS::DynamoDB::Table',
  'AWS::KMS::Key',
  'AWS::Cognito::UserPool',
  'AWS::Cognito::UserPoolDomain',
  'AWS::Cognito::UserPoolClient',
  'AWS::SecretsManager::Secret',
  'AWS::Logs::LogGroup',
  'AWS::CertificateManager::Certificate',
  'AWS::CloudFront::Distribution',
  'AWS::ApiGateway::DomainName',
  'AWS::ApiGateway::RestApi',
  'AWS::Route53::RecordSet',
  'AWS::WAFv2::WebACL',
  'AWS::Lambda::Function',
  'AWS::IAM::Role',
  'AWS::SNS::Topic',
];

describe('the CDK feature flags', () => {
  it('are pinned in cdk.json: exactly what cdk init writes for this aws-cdk-lib', () => {
    const pinned = Object.fromEntries(
      Object.entries(CDK_JSON_CONTEXT).filter(([key]) => !CLI_SETTINGS.includes(key)),
    );
    expect(pinned).toEqual(RECOMMENDED);
  });

  it('change the templates made before them in place only: no stateful resource changes or is replaced', () => {
    const before = templates({});
    const after = templates(CDK_JSON_CONTEXT);
    const changes: string[] = [];
    for (const [stack, resources] of Object.entries(before)) {
      const now = after[stack]!;
      for (const id of new Set([...Object.keys(resources), ...Object.keys(now)])) {
        const was = resources[id];
        const is = now[id];
        if (!was || !is) {
          changes.push(`${(was ?? is)!.Type} ${was ? 'removed' : 'added'}`);
          continue;
        }
        for (const key of new Set([
          ...Object.keys(was.Properties ?? {}),
          ...Object.keys(is.Properties ?? {}),
        ])) {
          if (JSON.stringify(was.Properties?.[key]) !== JSON.stringify(is.Properties?.[key])) {
            changes.push(`${is.Type} ${key}`);
          }
        }
      }
    }
    expect([...new Set(changes)].sort()).toEqual([
      // A new deployment of the API (a new one on every change of the API anyway); stateless.
      'AWS::ApiGateway::Deployment added',
      'AWS::ApiGateway::Deployment removed',
      // enablePartitionLiterals: `arn:aws:…` instead of `arn:${AWS::Partition}:…`.
      'AWS::ApiGateway::Method Integration',
      // logGroupDestinationArnWithoutWildcard, and the new deployment.
      'AWS::ApiGateway::Stage AccessLogSetting',
      'AWS::ApiGateway::Stage DeploymentId',
      // minimizePolicies: statements merged and actions sorted; the same permissions.
      'AWS::IAM::Policy PolicyDocument',
      // The account root's ARN with a literal partition, an in-place update of the key policy.
      'AWS::KMS::Key KeyPolicy',
      // SourceArn is create-only: the permissions are replaced (API Gateway's right to invoke
      // each function; stateless, the new one is in place before the old one goes).
      'AWS::Lambda::Permission SourceArn',
      'AWS::SNS::TopicPolicy PolicyDocument',
    ]);
    const statefulChanges = [...new Set(changes)].filter((c) => STATEFUL.includes(c.split(' ')[0]!));
    expect(statefulChanges).toEqual(['AWS::KMS::Key KeyPolicy']);
  });
});
