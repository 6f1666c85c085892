import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { REGISTRATION_USER } from '../functions/core/store/registrations.ts';
import { type DeployIdp, idpEnvironmentValue } from './config-checks.ts';
import { FUNCTION_LOG_RETENTION } from './defaults.ts';
import { type FunctionSettings, type TableOperation, telemetryEnvironment } from './function-settings.ts';
import type { SealingSecret } from './sealing-secret.ts';
import type { SigningKey } from './signing-key.ts';

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
  /**
   * The deployment's service name: the functions' log field and metric dimension
   * (POWERTOOLS_SERVICE_NAME). Default `mcp-edge`.
   */
  readonly service?: string;
  /** Granted read/write when `settings.tableAccess` is `readWrite`; never touched otherwise. */
  readonly table: ITable;
  /** The gateway key: encrypts the table and seals the vault's data keys. */
  readonly key: IKey;
  /** The deployment's route origins: the only `route` values the vault may use as KMS context. */
  readonly routeOrigins: readonly string[];
  /**
   * The identity provider, given to functions whose settings ask for `signIn`; its issuer and
   * client ID may be tokens (a user pool the stack creates).
   */
  readonly idp: DeployIdp;
  readonly upstreamSecretArns: readonly string[];
  /** The key that signs the gateway's access tokens; used when `settings.gatewayTokens` is not `none`. */
  readonly signingKey: SigningKey;
  /**
   * `MCP_EDGE_AUTHORIZATION` (trust policy, pre-registered MCP clients, token lifetimes), given to
   * the function that issues tokens (`gatewayTokens: 'issue'`).
   */
  readonly authorizationSettings: string;
  /** The proxy's sealing key material; read access and its ARN only when `settings.sealing`. */
  readonly sealingSecret: SealingSecret;
}

/** The item operations the stores use (lib-dynamodb Get/Put/Update/Delete/Query); no batches, no scans. */
const TABLE_OPERATIONS: readonly TableOperation[] = [
  'GetItem',
  'Query',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
];

/** For record kinds a function only looks at: an item by its key, or one partition's items. */
const TABLE_READ_OPERATIONS: readonly TableOperation[] = ['GetItem', 'Query'];

/** What DynamoDB needs from the caller for a table encrypted with a customer-managed key. */
const TABLE_KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:DescribeKey',
  'kms:Encrypt',
  'kms:ReEncrypt*',
  'kms:GenerateDataKey*',
];

/**
 * ESM bundles can still contain CommonJS dependencies that call `require`; this gives them one.
 * The alias avoids clashing with a `createRequire` import esbuild may keep in the bundle.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __mcpEdgeCreateRequire } from 'node:module'; const require = __mcpEdgeCreateRequire(import.meta.url);";

/**
 * One gateway Lambda function: Node.js 24 on ARM64, bundled by the local esbuild as minified ESM
 * with source maps, logging to its own log group. Its role starts with one permission, writing to
 * that log group (no managed policy), and gets the table, the vault's KMS data keys, configured
 * secrets, the token signing key and the sealing secret only when its {@link FunctionSettings} ask
 * for them.
 */
export class GatewayFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
    const { name, settings } = props;
    if (settings.signIn && settings.tableAccess !== 'readWrite') {
      throw new Error(
        `Function "${name}": signIn needs tableAccess "readWrite" (sign-in keeps its sessions in the table)`,
      );
    }
    const partialKinds = settings.readOnlyRecordKinds.length + Object.keys(settings.recordOperations).length;
    if (partialKinds > 0 && settings.tableAccess !== 'readWrite') {
      throw new Error(
        `Function "${name}": readOnlyRecordKinds and recordOperations need tableAccess "readWrite" (it is built on the shared services)`,
      );
    }

    this.logGroup = new LogGroup(this, 'Logs', { retention: FUNCTION_LOG_RETENTION });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `MCP Edge ${name} function`,
    });
    this.logGroup.grantWrite(this.role);

    const environment: Record<string, string> = {
      ...props.environment,
      ...telemetryEnvironment(name, props.service),
      NODE_OPTIONS: '--enable-source-maps',
    };
    if (settings.tableAccess === 'readWrite') this.grantServices(props, environment);
    if (settings.vault) this.grantVault(props, settings.vault);
    if (settings.upstreamSecrets) this.grantSecretValues(props.upstreamSecretArns);
    if (settings.gatewayTokens !== 'none') {
      if (settings.gatewayTokens === 'issue') {
        props.signingKey.grantIssue(this.role);
        environment.MCP_EDGE_AUTHORIZATION = props.authorizationSettings;
      } else {
        props.signingKey.grantVerify(this.role);
      }
      environment.MCP_EDGE_SIGNING_KEY_ARN = props.signingKey.key.keyArn;
    }
    if (settings.sealing) {
      props.sealingSecret.grantRead(this.role);
      environment.MCP_EDGE_SEALING_SECRET_ARN = props.sealingSecret.secret.secretArn;
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

  /** The table, its key (only through DynamoDB) and what the shared services read at cold start. */
  private grantServices(props: GatewayFunctionProps, environment: Record<string, string>): void {
    const { name } = props;
    const { recordKinds, readOnlyRecordKinds, recordOperations } = props.settings;
    // Kinds with the same operations share one statement: all of them, reads only, or exactly
    // the operations a kind is listed with.
    const byOperations = new Map<string, string[]>();
    const add = (operations: readonly TableOperation[], kinds: readonly string[]) => {
      const actions = [...new Set(operations)].map((op) => `dynamodb:${op}`).join(' ');
      byOperations.set(actions, [...(byOperations.get(actions) ?? []), ...kinds]);
    };
    add(TABLE_OPERATIONS, recordKinds);
    add(TABLE_READ_OPERATIONS, readOnlyRecordKinds);
    for (const [kind, operations] of Object.entries(recordOperations)) {
      if (!operations || operations.length === 0) {
        throw new Error(`The ${name} function lists ${kind} in recordOperations without operations`);
      }
      add(operations, [kind]);
    }
    const kinds = [...byOperations.values()].flat();
    if (kinds.length === 0) {
      throw new Error(`The ${name} function reads and writes the table but names no record kinds`);
    }
    const twice = kinds.filter((kind, index) => kinds.indexOf(kind) !== index);
    if (twice.length > 0) {
      throw new Error(`The ${name} function lists ${[...new Set(twice)].join(', ')} more than once`);
    }
    // Only the record kinds this function uses: login cannot read the token vault, for one.
    for (const [actions, onlyKinds] of byOperations) {
      if (onlyKinds.length === 0) continue;
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: actions.split(' '),
          resources: [props.table.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': onlyKinds.map((kind) => `${kind}#*`) },
          },
        }),
      );
    }
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: TABLE_KEY_ACTIONS,
        resources: [props.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
    for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: `The ${name} function reads and writes the gateway table, which DynamoDB encrypts with the customer-managed gateway key; ${action} is in the set DynamoDB documents for such tables, limited to that one key and to calls made through DynamoDB (kms:ViaService).`,
      });
    }
    environment.MCP_EDGE_TABLE = props.table.tableName;
    environment.MCP_EDGE_KMS_KEY_ARN = props.key.keyArn;
    if (props.settings.signIn) {
      environment.MCP_EDGE_IDP = idpEnvironment(this, props.idp);
      if (props.idp.clientSecretArn) this.grantSecretValues([props.idp.clientSecretArn]);
    }
  }

  /**
   * Data keys for the token vault, only under its full encryption context (docs/storage.md).
   * `seal`: new data keys for people's items only, and decryption for dynamic registrations'
   * client secrets only (functions/core/store/registrations.ts seals them for a pseudo-user).
   */
  private grantVault(props: GatewayFunctionProps, mode: true | 'seal'): void {
    const vaultContext = {
      'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['route', 'user', 'issuer'] },
      Null: {
        'kms:EncryptionContext:route': 'false',
        'kms:EncryptionContext:user': 'false',
        'kms:EncryptionContext:issuer': 'false',
      },
    };
    const routes = { 'kms:EncryptionContext:route': [...props.routeOrigins] };
    const statement = (actions: string[], conditions: Record<string, unknown>) =>
      this.role.addToPrincipalPolicy(
        new PolicyStatement({ actions, resources: [props.key.keyArn], conditions }),
      );
    if (mode === true) {
      statement(['kms:GenerateDataKey', 'kms:Decrypt'], { ...vaultContext, StringEquals: routes });
      return;
    }
    statement(['kms:GenerateDataKey'], {
      ...vaultContext,
      StringEquals: routes,
      StringNotEquals: { 'kms:EncryptionContext:user': REGISTRATION_USER },
    });
    statement(['kms:Decrypt'], {
      ...vaultContext,
      StringEquals: { ...routes, 'kms:EncryptionContext:user': REGISTRATION_USER },
    });
  }

  private grantSecretValues(arns: readonly string[]): void {
    if (arns.length === 0) return;
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [...arns] }),
    );
  }
}

/**
 * `MCP_EDGE_IDP`: plain JSON for a configured issuer; for a user pool the stack creates, JSON that
 * CloudFormation completes with the pool and client IDs at deploy time.
 */
function idpEnvironment(scope: Construct, idp: DeployIdp): string {
  const hasTokens = Object.values(idp).some((value) => Token.isUnresolved(value));
  return hasTokens ? Stack.of(scope).toJsonString(idp) : idpEnvironmentValue(idp);
}
