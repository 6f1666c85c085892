import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../functions/core/config/parse.ts';
import type { GatewayConfigInput } from '../../functions/core/config/schema.ts';
import { checkDeployConfig, type Deployment } from '../../lib/config-checks.ts';
import { addMcpEdgeStacks, type McpEdgeStacks, type McpEdgeStacksOptions } from '../../lib/mcp-edge-app.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURES = resolve(REPO_ROOT, 'test/fixtures');
/** cdk.json's context (the pinned feature flags), which the CDK CLI gives the app: tests synthesize what deploys. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(resolve(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;
export const THREE_ROUTES_FILE = resolve(FIXTURES, 'infra-three-routes.config.json');

/** A fixture config as the operator wrote it (plain JSON). */
export function readFixture(name: string): GatewayConfigInput {
  return JSON.parse(readFileSync(resolve(FIXTURES, name), 'utf8')) as GatewayConfigInput;
}

/** Schema and deployment checks, as `bin/app.ts` runs them; throws with the messages when refused. */
export function deploymentOf(input: GatewayConfigInput): Deployment {
  const parsed = parseConfig(input);
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const checked = checkDeployConfig(parsed.config);
  if (!checked.ok) throw new Error(checked.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return checked.deployment;
}

export interface Synthesized extends McpEdgeStacks {
  readonly app: App;
  readonly certificatesTemplate: Template;
  readonly gatewayTemplate: Template;
}

/**
 * Builds and synthesizes the app in-process, with cdk.json's context as the CLI would give it.
 * To keep tests fast, bundling is skipped (no esbuild run) and so is aws-cdk-lib's built-in
 * CloudFormation validation (its WASM engine takes seconds to load in every test process);
 * cli-synth.test.ts runs the real `cdk synth` with both, and cfn-lint. cdk-nag is off here: the
 * nag test runs the checks itself so it can report every finding.
 */
export function synthesize(input: GatewayConfigInput, options: McpEdgeStacksOptions = {}): Synthesized {
  const app = new App({
    context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const stacks = addMcpEdgeStacks(app, deploymentOf(input), { nag: false, ...options });
  app.synth();
  return {
    app,
    ...stacks,
    certificatesTemplate: Template.fromStack(stacks.certificates),
    gatewayTemplate: Template.fromStack(stacks.gateway),
  };
}

/** Resources whose logical ID starts with a prefix (a route's construct ID), by logical ID. */
export function resourcesUnder(template: Template, prefix: string): Record<string, { Type: string }> {
  const all = template.toJSON().Resources as Record<string, { Type: string }>;
  return Object.fromEntries(Object.entries(all).filter(([id]) => id.startsWith(prefix)));
}
