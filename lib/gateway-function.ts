import { Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTION_LOG_RETENTION } from './defaults.ts';
import type { FunctionSettings } from './function-settings.ts';

export interface GatewayFunctionProps {
  /** The function's name in the endpoint table; its code is `<functionsDir>/<name>/handler.ts`. */
  readonly name: string;
  /** Absolute path of the `functions/` folder. */
  readonly functionsDir: string;
  /** Absolute path of the folder holding `package-lock.json` (esbuild's working directory). */
  readonly projectRoot: string;
  readonly settings: FunctionSettings;
  /** Variables every function gets (the route table, the origin secret). */
  readonly environment: Readonly<Record<string, string>>;
  /** Granted read/write when `settings.tableAccess` is `readWrite`; never touched otherwise. */
  readonly table: ITable;
}

/**
 * ESM bundles can still contain CommonJS dependencies that call `require`; this gives them one.
 * The alias avoids clashing with a `createRequire` import esbuild may keep in the bundle.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __mcpEdgeCreateRequire } from 'node:module'; const require = __mcpEdgeCreateRequire(import.meta.url);";

/**
 * One gateway Lambda function: Node.js 24 on ARM64, bundled by the local esbuild as minified ESM
 * with source maps, logging to its own log group, with a role whose only permissions are writing
 * to that log group (plus the table, for functions that need it). No managed policy is attached.
 */
export class GatewayFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
    const { name, settings } = props;

    this.logGroup = new LogGroup(this, 'Logs', { retention: FUNCTION_LOG_RETENTION });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `MCP Edge ${name} function: writes its own logs${settings.tableAccess === 'none' ? '' : ', reads and writes the gateway table'}`,
    });
    this.logGroup.grantWrite(this.role);

    const environment: Record<string, string> = {
      ...props.environment,
      NODE_OPTIONS: '--enable-source-maps',
    };
    if (settings.tableAccess === 'readWrite') {
      props.table.grantReadWriteData(this.role);
      environment.MCP_EDGE_TABLE = props.table.tableName;
      for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason: `The ${name} function reads and writes the KMS-encrypted gateway table; ${action} is part of the DynamoDB grant for a customer-managed key and is scoped to that one key's ARN.`,
        });
      }
    }

    this.function = new NodejsFunction(this, 'Function', {
      entry: `${props.functionsDir}/${name}/handler.ts`,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: `${props.projectRoot}/package-lock.json`,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: settings.memorySize,
      timeout: settings.timeout,
      role: this.role,
      logGroup: this.logGroup,
      environment,
      description: `MCP Edge: ${name}`,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        mainFields: ['module', 'main'],
        // Bundle the AWS SDK too: the versions tested are the versions deployed.
        externalModules: [],
        banner: ESM_REQUIRE_BANNER,
      },
    });
  }
}
