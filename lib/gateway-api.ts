import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  type MethodDeploymentOptions,
  MethodLoggingLevel,
  ResponseTransferMode,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Endpoint } from '../functions/core/endpoints.ts';
import { ACCESS_LOG_RETENTION, ENTRY_POINT_THROTTLING, STAGE_NAME, THROTTLING } from './defaults.ts';
import type { FunctionSettings } from './function-settings.ts';

/**
 * One JSON object per request. `host` is the route; `error` uses `messageString`, which API
 * Gateway quotes and escapes itself (so it is not in quotes here). Client IPs are CloudFront's:
 * the viewer's address is in `X-Forwarded-For`, which the functions see.
 */
const ACCESS_LOG_FORMAT = `{${[
  ['requestId', AccessLogField.contextRequestId()],
  ['extendedRequestId', AccessLogField.contextExtendedRequestId()],
  ['time', AccessLogField.contextRequestTime()],
  ['host', AccessLogField.contextDomainName()],
  ['method', AccessLogField.contextHttpMethod()],
  ['path', AccessLogField.contextPath()],
  ['resourcePath', AccessLogField.contextResourcePath()],
  ['protocol', AccessLogField.contextProtocol()],
  ['status', AccessLogField.contextStatus()],
  ['responseLength', AccessLogField.contextResponseLength()],
  ['responseLatency', AccessLogField.contextResponseLatency()],
  ['integrationStatus', AccessLogField.contextIntegrationStatus()],
  ['integrationLatency', AccessLogField.contextIntegrationLatency()],
  ['sourceIp', AccessLogField.contextIdentitySourceIp()],
  ['userAgent', AccessLogField.contextIdentityUserAgent()],
]
  .map(([key, value]) => `"${key}":"${value}"`)
  .concat(`"error":${AccessLogField.contextErrorMessageString()}`)
  .join(',')}}`;

export interface GatewayApiFunction {
  readonly function: IFunction;
  readonly settings: FunctionSettings;
}

/**
 * One concrete path of the endpoint table and the row that serves it: a fixed row's path, or a
 * route-derived row's path for one route (`expandEndpoints` in functions/core/endpoints.ts).
 */
export interface ApiEndpoint {
  readonly path: string;
  readonly endpoint: Endpoint;
}

export interface GatewayApiProps {
  /** The REST API's name (lib/deployment-names.ts). */
  readonly restApiName: string;
  /**
   * Set the account's API Gateway CloudWatch Logs role in this region (`AWS::ApiGateway::Account`,
   * one per account and region, retained on deletion). Off for a second deployment in the same
   * account and region, which uses the role the first one set.
   */
  readonly cloudWatchRole: boolean;
  /**
   * The endpoint table expanded over the routes' MCP paths, each path once: one API Gateway
   * resource per path (`/` is the API's root resource), one method per listed method.
   */
  readonly endpoints: readonly ApiEndpoint[];
  /** The function behind each name the table uses. */
  readonly functions: ReadonlyMap<string, GatewayApiFunction>;
}

/**
 * Method settings that throttle each listed method of the endpoint table's `entry` rows at
 * {@link ENTRY_POINT_THROTTLING}; every other method keeps the stage's {@link THROTTLING}.
 * Keys are `{resource path}/{method}`, as the stage's `methodOptions` take them.
 */
export function entryPointMethodOptions(
  endpoints: readonly ApiEndpoint[],
): Record<string, MethodDeploymentOptions> {
  const options: Record<string, MethodDeploymentOptions> = {};
  for (const { path, endpoint } of endpoints) {
    if (endpoint.throttling !== 'entry') continue;
    for (const method of endpoint.methods) {
      options[`${path === '/' ? '' : path}/${method}`] = {
        // A method's settings replace the stage's: the logging level is repeated here.
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: ENTRY_POINT_THROTTLING.rateLimit,
        throttlingBurstLimit: ENTRY_POINT_THROTTLING.burstLimit,
      };
    }
  }
  return options;
}

/** API Gateway's answer when it throttles a request: JSON naming the refusal, like the gateway's own. */
const THROTTLED_BODY = JSON.stringify({
  error: 'throttled',
  error_description: 'The gateway is receiving too many requests. Try again in a moment.',
});

/**
 * The REST API every route's custom domain maps to, generated from the endpoint table.
 *
 * REGIONAL (CloudFront in front is ours), the default `execute-api` endpoint disabled so the only
 * ways in are the custom domains, JSON access logs, stage throttling with lower limits on the
 * entry points ({@link entryPointMethodOptions}). Methods carry no API Gateway authorization: the
 * endpoints are public by protocol and the functions authenticate callers.
 */
export class GatewayApi extends Construct {
  public readonly api: RestApi;
  public readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: GatewayApiProps) {
    super(scope, id);

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: ACCESS_LOG_RETENTION,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.api = new RestApi(this, 'Api', {
      restApiName: props.restApiName,
      description: 'MCP Edge gateway (reached through each route host’s CloudFront distribution)',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Custom domains keep working; only https://{id}.execute-api... is turned off.
      disableExecuteApiEndpoint: true,
      // API Gateway writes access and execution logs through the account's CloudWatch role.
      cloudWatchRole: props.cloudWatchRole,
      ...(props.cloudWatchRole ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        stageName: STAGE_NAME,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
        // Errors only, and never request or response bodies (they carry tokens and codes).
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: THROTTLING.rateLimit,
        throttlingBurstLimit: THROTTLING.burstLimit,
        methodOptions: entryPointMethodOptions(props.endpoints),
      },
    });

    // A throttled request gets a 429 that names its refusal code like the functions' answers do,
    // instead of API Gateway's `{"message":"Too Many Requests"}`.
    this.api.addGatewayResponse('Throttled', {
      type: ResponseType.THROTTLED,
      statusCode: '429',
      responseHeaders: {
        'x-mcp-edge-refusal': "'throttled'",
        'Cache-Control': "'no-store'",
        'Retry-After': "'1'",
      },
      templates: { 'application/json': THROTTLED_BODY },
    });

    // The default execute-api endpoint is disabled, so its URL output would only mislead.
    this.api.node.tryRemoveChild('Endpoint');

    const integrations = new Map<string, LambdaIntegration>();
    const integrationFor = (name: string): LambdaIntegration => {
      let integration = integrations.get(name);
      if (!integration) {
        const fn = props.functions.get(name);
        if (!fn) throw new Error(`The endpoint table names function "${name}", which was not created`);
        integration = new LambdaIntegration(fn.function, {
          allowTestInvoke: false,
          timeout: fn.settings.timeout,
          ...(fn.settings.streaming ? { responseTransferMode: ResponseTransferMode.STREAM } : {}),
        });
        integrations.set(name, integration);
      }
      return integration;
    };

    for (const { path, endpoint } of props.endpoints) {
      // `/` is the root resource itself (an MCP endpoint at the origin's root).
      const resource = this.api.root.resourceForPath(path);
      // The listed methods, plus ANY so that any other method reaches the function too and gets its
      // clear 405 with Allow rather than API Gateway's "Missing Authentication Token" 403.
      for (const httpMethod of [...endpoint.methods, 'ANY']) {
        const method = resource.addMethod(httpMethod, integrationFor(endpoint.function), {
          authorizationType: AuthorizationType.NONE,
        });
        const where = `${httpMethod} ${path} (${endpoint.function} function)`;
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `${where} is a public endpoint by protocol (CIMD, OAuth redirects, MCP with the gateway's own tokens); the function authenticates callers itself and refuses requests without CloudFront's origin-verify header.`,
        });
        // cdk-nag does not apply COG4 to OPTIONS (CORS preflights carry no credentials).
        if (httpMethod !== 'OPTIONS') {
          Validations.of(method).acknowledge({
            id: 'AwsSolutions-COG4',
            reason: `${where}: a Cognito authorizer cannot apply, since callers are MCP clients and browsers of any identity provider and the function does the authentication.`,
          });
        }
      }
    }

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Every integration is a Lambda proxy whose function parses and validates its own input (and answers with OAuth or JSON-RPC errors a model-based request validator cannot produce).',
    });
    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        "The AWS WAF web ACL is on every route host's CloudFront distribution, the only way in: the default execute-api endpoint is disabled and the functions refuse requests without CloudFront's origin-verify header. A second, regional web ACL on the stage would inspect the same requests again at the same price (about $5/month plus rules).",
    });
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level role API Gateway uses to write access and execution logs; AWS maintains this policy for exactly that purpose, and an inline copy would hold the same log-group wildcards.',
      });
    }
  }
}
