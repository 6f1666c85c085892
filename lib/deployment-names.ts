import { STACK_NAMES } from './defaults.ts';
import { DEFAULT_SERVICE_NAME } from './monitoring.ts';

/**
 * The names a deployment gives the things it creates with a name of its own (issue 9 item 10):
 * stacks, the REST API, the user pool and its app client, and the service name its alarms, web ACL
 * and dashboard are named after. Without a `deploymentName` these are exactly the names of a
 * single deployment before the key existed, so an existing deployment keeps every resource;
 * with one, each is prefixed by it, so several deployments share an account and region.
 *
 * The DynamoDB table, functions, roles, log groups and secrets have no name in the template:
 * CloudFormation names them `{stack name}-{logical ID}-{random}` (secrets `{logical ID}-{random}`),
 * so they follow the stack name and never clash. Route hosts (custom domains, DNS records,
 * CloudFront aliases) belong to one deployment each.
 */
export interface DeploymentNames {
  /** The us-east-1 stack with the CloudFront certificates. */
  readonly certificatesStack: string;
  /** The us-east-1 stack with the AWS WAF web ACL. */
  readonly protectionStack: string;
  /** The stack in `aws.region`. */
  readonly gatewayStack: string;
  readonly restApi: string;
  readonly userPool: string;
  readonly userPoolClient: string;
  /** Metric dimension, alarm, web ACL and dashboard names (`{service}-…`). */
  readonly service: string;
}

/**
 * How long a `deploymentName` may be: CloudFormation names the table
 * `{deploymentName}-McpEdgeGateway-DataTable{8}-{about 13}`, and the functions' environment budget
 * counts a table name of at most 64 characters (test/infra/authorization.test.ts); every name given
 * explicitly stays far within its own limit (stack names 128, Cognito pool and client names 128,
 * alarm and dashboard names 255, web ACL names 128).
 */
export const DEPLOYMENT_NAME_MAX_LENGTH = 16;

/** The names of a deployment (see {@link DeploymentNames}); `undefined` keeps the original names. */
export function deploymentNames(deploymentName: string | undefined): DeploymentNames {
  const stack = (name: string) => (deploymentName ? `${deploymentName}-${name}` : name);
  const service = deploymentName ? `${deploymentName}-${DEFAULT_SERVICE_NAME}` : DEFAULT_SERVICE_NAME;
  return {
    certificatesStack: stack(STACK_NAMES.certificates),
    protectionStack: stack(STACK_NAMES.protection),
    gatewayStack: stack(STACK_NAMES.gateway),
    restApi: stack(STACK_NAMES.gateway),
    userPool: service,
    userPoolClient: `${service}-login`,
    service,
  };
}
