import { Duration } from 'aws-cdk-lib';
import type { RecordKind } from '../functions/core/store/keys.ts';

/**
 * What a function does with the gateway's own access tokens (DESIGN.md "The gateway as an
 * authorization server"): `issue` signs them with the signing key (and reads the authorization
 * settings), `verify` only checks them with its public key, `none` never sees one.
 */
export type GatewayTokens = 'none' | 'verify' | 'issue';

/** The item operations the stores call (lib-dynamodb Get, Query, Put, Update, Delete). */
export type TableOperation = 'GetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem';

/**
 * Per-function settings for the functions the endpoint table names. A new endpoint row for an
 * existing function needs nothing here; a new function gets {@link DEFAULT_FUNCTION_SETTINGS}
 * (no table access, buffered responses) unless it has an entry below.
 */
export interface FunctionSettings {
  /**
   * `readWrite`: the function is built on the shared services (functions/adapters/lambda-services.ts,
   * the proxy's own functions/adapters/proxy-lambda.ts): it may read and write the gateway table,
   * and gets MCP_EDGE_TABLE and MCP_EDGE_KMS_KEY_ARN.
   */
  readonly tableAccess: 'none' | 'readWrite';
  /**
   * The record kinds (`pk` prefixes) the function may read and write; its table policy allows only
   * items whose partition key starts with one of them (`dynamodb:LeadingKeys`).
   */
  readonly recordKinds: readonly RecordKind[];
  /**
   * Record kinds the function may only read (`dynamodb:GetItem`, `dynamodb:Query`): it looks at
   * them but never writes or deletes them. Needs `tableAccess: 'readWrite'`.
   */
  readonly readOnlyRecordKinds: readonly RecordKind[];
  /**
   * Record kinds with exactly the item operations the function calls on them, for a role cut to
   * what its code does (the callback); a kind listed here is in neither list above. Needs
   * `tableAccess: 'readWrite'`.
   */
  readonly recordOperations: Readonly<Partial<Record<RecordKind, readonly TableOperation[]>>>;
  /**
   * Signs people in to the gateway (needs `tableAccess: 'readWrite'`): gets MCP_EDGE_IDP and, for
   * an external issuer with a client secret, read access to exactly that secret. Only sign-in
   * does: the shared services load the secret at cold start whenever MCP_EDGE_IDP names one, so a
   * function given the variable without the permission would fail to start.
   */
  readonly signIn: boolean;
  /**
   * Uses the token vault: KMS data keys from the gateway key, only under the vault's encryption
   * context (route, user, issuer) and only for this deployment's routes (docs/storage.md).
   * `seal`: it only stores people's tokens (`kms:GenerateDataKey`) and opens nothing but dynamic
   * registrations' client secrets (`kms:Decrypt` for the registrations' pseudo-user), never a
   * person's tokens.
   */
  readonly vault: boolean | 'seal';
  /** Reads the routes' configured upstream client secrets (`upstream.clientSecret.secretArn`). */
  readonly upstreamSecrets: boolean;
  /**
   * The gateway's access tokens. `issue`: `kms:Sign` and `kms:GetPublicKey` on the signing key,
   * MCP_EDGE_SIGNING_KEY_ARN and MCP_EDGE_AUTHORIZATION (trust policy, pre-registered clients,
   * token lifetimes). `verify`: `kms:GetPublicKey` only, and MCP_EDGE_SIGNING_KEY_ARN.
   */
  readonly gatewayTokens: GatewayTokens;
  /**
   * Reads the stack's generated sealing secret (lib/sealing-secret.ts): MCP_EDGE_SEALING_SECRET_ARN
   * and `secretsmanager:GetSecretValue` on exactly that secret (read once per cold start). Every
   * function that reads or writes authenticated table records needs it (their MACs and sealed
   * data are keyed from it, functions/core/store/record-mac.ts); the proxy also seals the values
   * it hands to MCP clients (`Mcp-Session-Id`, request state) with it.
   */
  readonly sealing: boolean;
  /** Streams its response through API Gateway (`ResponseTransferMode.STREAM`). */
  readonly streaming: boolean;
  readonly memorySize: number;
  /** Lambda timeout; also the API Gateway integration timeout (29 s at most unless streaming). */
  readonly timeout: Duration;
}

/** Least privilege: a function reads nothing it is not given. */
export const DEFAULT_FUNCTION_SETTINGS: FunctionSettings = {
  tableAccess: 'none',
  recordKinds: [],
  readOnlyRecordKinds: [],
  recordOperations: {},
  signIn: false,
  vault: false,
  upstreamSecrets: false,
  gatewayTokens: 'none',
  sealing: false,
  streaming: false,
  memorySize: 256,
  timeout: Duration.seconds(10),
};

/** What the OAuth client steps (connect, callback) need: table, vault, upstream secrets. */
const OAUTH_CLIENT: Partial<FunctionSettings> = {
  tableAccess: 'readWrite',
  recordKinds: ['session', 'state', 'vault', 'registration', 'discovery'],
  vault: true,
  upstreamSecrets: true,
  sealing: true,
  timeout: Duration.seconds(25),
};

/**
 * Keyed by function name (`functions/<name>/handler.ts`). Entries for functions DESIGN.md plans
 * but the endpoint table does not list yet are harmless: only listed functions are created.
 */
export const FUNCTION_SETTINGS: Readonly<Record<string, Partial<FunctionSettings>>> = {
  // Serves a document computed from its environment: no table, no outbound calls.
  cimd: { timeout: Duration.seconds(5) },
  // Gateway sign-in: sessions in the table, the identity provider (and its secret); no vault.
  login: {
    tableAccess: 'readWrite',
    recordKinds: ['session'],
    signIn: true,
    sealing: true,
    timeout: Duration.seconds(25),
  },
  // Its connections page also lists the MCP clients a person authorized, and revokes them.
  connect: { ...OAUTH_CLIENT, recordKinds: [...OAUTH_CLIENT.recordKinds!, 'grant', 'refresh'] },
  // Finishes what connect started: reads the sign-in session, consumes the state (a conditional
  // delete, then a read to say why one was refused), stores the person's tokens (one update) and
  // reads a dynamic registration's client secret for the code exchange, or forgets a registration
  // the upstream no longer accepts. It never discovers, registers, lists or reads tokens back.
  callback: {
    ...OAUTH_CLIENT,
    recordKinds: [],
    recordOperations: {
      session: ['GetItem'],
      state: ['GetItem', 'DeleteItem'],
      vault: ['UpdateItem'],
      registration: ['GetItem', 'DeleteItem'],
    },
    vault: 'seal',
  },
  // The route's authorization server toward MCP clients: keeps registered clients, codes, grants
  // (with consents) and refresh tokens, and signs access tokens. It only reads the sign-in session
  // (sign-in and sign-out are the login function's) and only lists a person's vault items to see
  // whether the route is connected (Vault.list), with no vault KMS permission: it cannot decrypt
  // upstream tokens. Fetching a client's metadata document may take up to 10 s.
  authorization: {
    tableAccess: 'readWrite',
    recordKinds: ['client', 'code', 'grant', 'refresh'],
    readOnlyRecordKinds: ['session', 'vault'],
    gatewayTokens: 'issue',
    sealing: true,
    timeout: Duration.seconds(25),
  },
  // MCP traffic: long-lived SSE streams, up to API Gateway's 15-minute streaming limit. It checks
  // the gateway's access tokens offline with the signing key's public key and asks whether their
  // grant is still alive (a read, at most once a minute). It reads the person's vault item and,
  // when the upstream token is due, refreshes it under the vault's conditional-write lease and
  // stores the rotated tokens (or removes the item on invalid_grant): vault items read-write, the
  // vault's data keys, the routes' upstream client secrets, and dynamic registrations read-only
  // (their client secrets, for refresh grants). It never signs a token or touches sessions.
  proxy: {
    tableAccess: 'readWrite',
    recordKinds: ['vault'],
    readOnlyRecordKinds: ['grant', 'registration'],
    vault: true,
    upstreamSecrets: true,
    gatewayTokens: 'verify',
    sealing: true,
    streaming: true,
    memorySize: 512,
    timeout: Duration.minutes(15),
  },
};

/** The settings of one function: its entry over the defaults. */
export function functionSettings(name: string): FunctionSettings {
  return { ...DEFAULT_FUNCTION_SETTINGS, ...FUNCTION_SETTINGS[name] };
}

/** The CloudWatch namespace of the functions' metrics (the metric contract; the alarms use it). */
export const FUNCTION_METRICS_NAMESPACE = 'McpEdge';

/**
 * The variables every function's logs and metrics read (functions/adapters/telemetry-output.ts and
 * Powertools itself): the deployment's service name (log field and the metrics' `service`
 * dimension; default `mcp-edge`), the metrics' namespace, and the function's own name, which every
 * log line carries. The alarms and dashboard rely on these names.
 */
export function telemetryEnvironment(functionName: string, service = 'mcp-edge'): Record<string, string> {
  return {
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: FUNCTION_METRICS_NAMESPACE,
    MCP_EDGE_FUNCTION: functionName,
  };
}
