import { App, type Stack } from 'aws-cdk-lib';
import type { GatewayConfigInput } from '../../functions/core/config/schema.ts';
import { addMcpEdgeStacks, type McpEdgeStacks } from '../../lib/mcp-edge-app.ts';
import { CDK_JSON_CONTEXT, deploymentOf, readFixture } from './synth.ts';

const cognito = readFixture('infra-cognito.config.json');

/**
 * Two deployments in one account and region, as an operator would write them: the Cognito fixture
 * as it always was (no `deploymentName`: the original names), and a second one named `team-b`
 * with its own hosts, the default Cognito user pool, alarm email topics and no claim on the
 * account's API Gateway CloudWatch role (the first deployment set it).
 */
export const FIRST: GatewayConfigInput = cognito;
export const SECOND: GatewayConfigInput = {
  deploymentName: 'team-b',
  aws: { ...cognito.aws!, apiGatewayCloudWatchRole: false },
  hostedZone: cognito.hostedZone!,
  // A topic for the alarms too (in both regions), so its resources are in the name check.
  alarms: { email: 'ops@team-b.example.com' },
  routes: [
    { from: 'https://team-b.example.com', to: 'https://api.upstream.example.net/mcp' },
    {
      from: 'https://tools.team-b.example.org',
      to: 'https://tools.upstream.example.net/mcp',
      hostedZone: { id: 'Z0EXAMPLEORG0002', name: 'example.org' },
    },
  ],
};

export interface TwoDeployments {
  readonly app: App;
  readonly first: McpEdgeStacks;
  readonly second: McpEdgeStacks;
}

/** Both deployments' stacks in one CDK app, synthesized (bundling skipped, cdk.json's flags). */
export function synthesizeTwoDeployments(): TwoDeployments {
  const app = new App({
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const first = addMcpEdgeStacks(app, deploymentOf(FIRST), { nag: false });
  const second = addMcpEdgeStacks(app, deploymentOf(SECOND), { nag: false });
  app.synth();
  return { app, first, second };
}

/** A deployment's stacks, certificates first. */
export const stacksOf = (stacks: McpEdgeStacks): Stack[] => Object.values(stacks) as Stack[];
