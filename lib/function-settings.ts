import { Duration } from 'aws-cdk-lib';

/**
 * Per-function settings for the functions the endpoint table names. A new endpoint row for an
 * existing function needs nothing here; a new function gets {@link DEFAULT_FUNCTION_SETTINGS}
 * (no table access, buffered responses) unless it has an entry below.
 */
export interface FunctionSettings {
  /** Access to the gateway table (and its KMS key). */
  readonly tableAccess: 'none' | 'readWrite';
  /** Streams its response through API Gateway (`ResponseTransferMode.STREAM`). */
  readonly streaming: boolean;
  readonly memorySize: number;
  /** Lambda timeout; also the API Gateway integration timeout (29 s at most unless streaming). */
  readonly timeout: Duration;
}

/** Least privilege: a function reads nothing it is not given. */
export const DEFAULT_FUNCTION_SETTINGS: FunctionSettings = {
  tableAccess: 'none',
  streaming: false,
  memorySize: 256,
  timeout: Duration.seconds(10),
};

/**
 * Keyed by function name (`functions/<name>/handler.ts`). Entries for functions DESIGN.md plans
 * but the endpoint table does not list yet are harmless: only listed functions are created.
 */
export const FUNCTION_SETTINGS: Readonly<Record<string, Partial<FunctionSettings>>> = {
  // Serves a document computed from its environment: no table, no outbound calls.
  cimd: { timeout: Duration.seconds(5) },
  // Consumes OAuth state and stores tokens after a token request to the upstream.
  callback: { tableAccess: 'readWrite', timeout: Duration.seconds(25) },
  login: { tableAccess: 'readWrite', timeout: Duration.seconds(25) },
  connect: { tableAccess: 'readWrite', timeout: Duration.seconds(25) },
  // MCP traffic: long-lived SSE streams, up to API Gateway's 15-minute streaming limit.
  proxy: { tableAccess: 'readWrite', streaming: true, memorySize: 512, timeout: Duration.minutes(15) },
};

/** The settings of one function: its entry over the defaults. */
export function functionSettings(name: string): FunctionSettings {
  return { ...DEFAULT_FUNCTION_SETTINGS, ...FUNCTION_SETTINGS[name] };
}
