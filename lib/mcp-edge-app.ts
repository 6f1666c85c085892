import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { expandEndpoints } from '../functions/core/endpoints.ts';
import { describeRoute } from '../functions/core/routes.ts';
import { CertificatesStack } from './certificates-stack.ts';
import type { Deployment } from './config-checks.ts';
import { deploymentNames } from './deployment-names.ts';
import type { ApiEndpoint } from './gateway-api.ts';
import { GatewayStack } from './gateway-stack.ts';
import { EdgeProtectionStack } from './waf-stack.ts';

/** The repository root (this file is `lib/mcp-edge-app.ts`). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface McpEdgeStacksOptions {
  /**
   * The endpoints to create, each path once.
   * @default the endpoint table in functions/core/endpoints.ts, expanded over the routes' MCP paths
   */
  readonly endpoints?: readonly ApiEndpoint[];
  /** @default `<repo>/functions` */
  readonly functionsDir?: string;
  /** Run the cdk-nag AwsSolutions checks when the app synthesizes. @default true */
  readonly nag?: boolean;
  /** Bump to replace the origin-verify secret (context `originSecretGeneration`). @default 0 */
  readonly originSecretGeneration?: number;
  /** Bump to replace the proxy's sealing secret (context `sealingSecretGeneration`). @default 0 */
  readonly sealingSecretGeneration?: number;
}

export interface McpEdgeStacks {
  readonly certificates: CertificatesStack;
  readonly protection: EdgeProtectionStack;
  readonly gateway: GatewayStack;
}

/**
 * Adds the MCP Edge stacks of a checked deployment to an app, named after its `deploymentName`
 * (lib/deployment-names.ts): several deployments can share one app, account and region.
 */
export function addMcpEdgeStacks(
  app: App,
  deployment: Deployment,
  options: McpEdgeStacksOptions = {},
): McpEdgeStacks {
  const names = deploymentNames(deployment.deploymentName);
  const certificates = new CertificatesStack(app, names.certificatesStack, {
    account: deployment.account,
    routes: deployment.routes,
  });
  const endpoints = options.endpoints ?? deploymentEndpoints(deployment);
  const { service } = names;
  const protection = new EdgeProtectionStack(app, names.protectionStack, {
    deployment,
    service,
    entryPointPaths: endpoints.filter((e) => e.endpoint.throttling === 'entry').map((e) => e.path),
  });
  const gateway = new GatewayStack(app, names.gatewayStack, {
    deployment,
    names,
    certificates,
    protection,
    service,
    endpoints,
    functionsDir: options.functionsDir ?? resolve(PROJECT_ROOT, 'functions'),
    projectRoot: PROJECT_ROOT,
    ...(options.originSecretGeneration === undefined
      ? {}
      : { originSecretGeneration: options.originSecretGeneration }),
    ...(options.sealingSecretGeneration === undefined
      ? {}
      : { sealingSecretGeneration: options.sealingSecretGeneration }),
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { certificates, protection, gateway };
}

/** The endpoint table expanded over the deployment's routes' MCP paths (`routes[].path` or the path of `to`). */
export function deploymentEndpoints(deployment: Deployment): ApiEndpoint[] {
  return expandEndpoints(deployment.routes.map((route) => describeRoute(route.config).mcpPath));
}
