import { CrossStackReferences, ReferenceStrength, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { PROXY_LATENCY_P99_DEFAULT_MS } from '../functions/core/config/schema.ts';
import type { CertificatesStack } from './certificates-stack.ts';
import {
  authorizationEnvironmentValue,
  type DeployIdp,
  type Deployment,
  routesEnvironmentValue,
} from './config-checks.ts';
import type { DeploymentNames } from './deployment-names.ts';
import { EdgePolicies } from './edge-policies.ts';
import { functionSettings } from './function-settings.ts';
import { type ApiEndpoint, GatewayApi, type GatewayApiFunction } from './gateway-api.ts';
import { GatewayFunction } from './gateway-function.ts';
import { GatewayTable } from './gateway-table.ts';
import { GatewayUserPool } from './gateway-user-pool.ts';
import { importHostedZone } from './hosted-zone.ts';
import { GatewayMonitoring } from './monitoring.ts';
import { AlarmNotifications } from './monitoring-topic.ts';
import { OriginVerifySecret } from './origin-verify-secret.ts';
import { RouteDomain } from './route-domain.ts';
import { routeConstructId } from './route-id.ts';
import { SealingSecret } from './sealing-secret.ts';
import { SigningKey } from './signing-key.ts';
import type { EdgeProtectionStack } from './waf-stack.ts';

export interface GatewayStackProps extends StackProps {
  readonly deployment: Deployment;
  /** The deployment's names: this stack's, the REST API's, the user pool's (lib/deployment-names.ts). */
  readonly names: DeploymentNames;
  readonly certificates: CertificatesStack;
  /** The us-east-1 stack with the AWS WAF web ACL every distribution uses. */
  readonly protection: EdgeProtectionStack;
  /** The deployment's service name: metric dimension, alarm and dashboard names. */
  readonly service: string;
  /**
   * The endpoint table expanded over the routes' MCP paths: the API and the cached CloudFront
   * behaviors are generated from it.
   */
  readonly endpoints: readonly ApiEndpoint[];
  /** Absolute path of the folder with one `<name>/handler.ts` per function. */
  readonly functionsDir: string;
  /** Absolute path of the folder with `package-lock.json`. */
  readonly projectRoot: string;
  /** See {@link OriginVerifySecret}; @default 0 */
  readonly originSecretGeneration?: number;
  /** See {@link SealingSecret}; @default 0 */
  readonly sealingSecretGeneration?: number;
}

/**
 * The gateway in the configured region: shared resources (table and key, the access-token signing
 * key, origin secret, the proxy's sealing secret, the Cognito user pool unless the config names
 * another identity provider, one function per function name in the endpoint table, the REST API,
 * CloudFront policies) and one {@link RouteDomain} per route, whose construct ID comes from the
 * route host alone.
 */
export class GatewayStack extends Stack {
  public readonly data: GatewayTable;
  public readonly signingKey: SigningKey;
  public readonly originVerify: OriginVerifySecret;
  /** The MCP proxy's sealing key material; only the proxy's role may read it. */
  public readonly sealing: SealingSecret;
  /** The user pool people sign in to; absent when the config names an external OIDC issuer. */
  public readonly userPool: GatewayUserPool | undefined;
  public readonly functions: ReadonlyMap<string, GatewayFunction>;
  public readonly api: GatewayApi;
  public readonly routes: ReadonlyMap<string, RouteDomain>;
  /** Alarms and the dashboard (README.md "Operations"). */
  public readonly monitoring: GatewayMonitoring;
  /** Where the alarms notify: `alarms.topicArn` and a topic created for `alarms.email`. */
  public readonly alarmNotifications: AlarmNotifications;

  constructor(scope: Construct, id: string, props: GatewayStackProps) {
    const { deployment } = props;
    super(scope, id, {
      ...props,
      env: { account: deployment.account, region: deployment.region },
      description: 'MCP Edge: gateway (API, functions, table) and one CloudFront distribution per route host',
    });
    // The us-east-1 certificate ARNs arrive through Fn::GetStackOutput (CloudFormation reads the
    // certificates stack's outputs across regions), not through CDK's strong cross-region
    // references, which need Lambda-backed custom resources and SSM parameters in both regions
    // and block removing a route until the stacks are deployed one at a time.
    CrossStackReferences.of(this).consume(ReferenceStrength.WEAK);

    this.data = new GatewayTable(this, 'Data');
    this.signingKey = new SigningKey(this, 'TokenSigning');
    this.originVerify = new OriginVerifySecret(this, 'OriginVerify', {
      generation: props.originSecretGeneration ?? 0,
    });
    this.sealing = new SealingSecret(this, 'ProxySealing', {
      generation: props.sealingSecretGeneration ?? 0,
    });

    const routeOrigins = deployment.routes.map((r) => r.config.from);
    let idp: DeployIdp;
    if (deployment.idp.kind === 'cognito') {
      this.userPool = new GatewayUserPool(this, 'SignIn', {
        userPoolName: props.names.userPool,
        clientName: props.names.userPoolClient,
        domainPrefix: deployment.idp.domainPrefix,
        routeOrigins,
      });
      idp = this.userPool.idp;
    } else {
      this.userPool = undefined;
      idp = deployment.idp.settings;
    }

    const environment = {
      MCP_EDGE_ROUTES: routesEnvironmentValue(deployment.routes.map((r) => r.config)),
      MCP_EDGE_ORIGIN_VERIFY: this.originVerify.dynamicReference,
    };
    const functions = new Map<string, GatewayFunction>();
    const apiFunctions = new Map<string, GatewayApiFunction>();
    const authorizationSettings = authorizationEnvironmentValue(deployment.authorization);
    for (const name of new Set(props.endpoints.map((e) => e.endpoint.function))) {
      const settings = functionSettings(name);
      const fn = new GatewayFunction(this, `${pascalCase(name)}Function`, {
        name,
        functionsDir: props.functionsDir,
        projectRoot: props.projectRoot,
        settings,
        environment,
        service: props.service,
        table: this.data.table,
        key: this.data.key,
        routeOrigins,
        idp,
        upstreamSecretArns: deployment.upstreamSecretArns,
        signingKey: this.signingKey,
        authorizationSettings,
        sealingSecret: this.sealing,
      });
      functions.set(name, fn);
      apiFunctions.set(name, { function: fn.function, settings });
    }
    this.functions = functions;

    this.api = new GatewayApi(this, 'Gateway', {
      restApiName: props.names.restApi,
      cloudWatchRole: deployment.apiGatewayCloudWatchRole,
      endpoints: props.endpoints,
      functions: apiFunctions,
    });
    const policies = new EdgePolicies(this, 'EdgePolicies');
    const cachedPaths = props.endpoints.filter((e) => e.endpoint.cacheable).map((e) => e.path);

    const routes = new Map<string, RouteDomain>();
    for (const route of deployment.routes) {
      routes.set(
        route.host,
        new RouteDomain(this, routeConstructId(route.host), {
          route,
          zone: importHostedZone(this, route.zone),
          edgeCertificate: props.certificates.certificateFor(route.host),
          api: this.api.api,
          policies,
          originVerifyValue: this.originVerify.dynamicReference,
          cachedPaths,
          webAclArn: props.protection.webAcl.webAcl.attrArn,
        }),
      );
    }
    this.routes = routes;

    const { alarms } = deployment;
    this.alarmNotifications = new AlarmNotifications(this, 'AlarmNotifications', {
      service: props.service,
      ...(alarms.email ? { email: alarms.email } : {}),
      topicArns: alarms.topicArn ? [alarms.topicArn] : [],
    });
    this.monitoring = new GatewayMonitoring(this, 'Monitoring', {
      service: props.service,
      api: this.api.api,
      functions: new Map([...functions].map(([name, fn]) => [name, fn.function])),
      table: this.data.table,
      webAcl: props.protection.webAcl,
      proxyLatencyP99Ms: alarms.proxyLatencyP99Ms ?? PROXY_LATENCY_P99_DEFAULT_MS,
      actions: this.alarmNotifications.actions,
    });
  }
}

function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}
