import { setTimeout as delay } from 'node:timers/promises';
import { AwsClient } from 'aws4fetch';

/**
 * A signed caller for AWS's JSON-protocol services (DynamoDB, KMS, Secrets Manager) over `fetch`,
 * for the proxy Lambda only: the AWS SDK clients are most of its bundle and its module init time,
 * and the proxy needs just a handful of operations. The other functions keep the SDK. Behaviour
 * mirrors AWS_CLIENT_SETTINGS (aws-clients.ts): a per-attempt timeout and at most one retry, for
 * network errors, timeouts, 5xx answers and throttling only. Errors look like the SDK's: `name`
 * is AWS's error code (`ConditionalCheckFailedException` …), with `$metadata.httpStatusCode`.
 */

export type AwsJsonService = 'dynamodb' | 'kms' | 'secretsmanager';
export type JsonObject = Record<string, unknown>;
type Env = Readonly<Record<string, string | undefined>>;

/** What callers may set; createFetchTable / createFetchKms fill in the service. */
export interface AwsJsonConnection {
  /** Region, endpoint and credentials come from here (Lambda sets them). Default: `process.env`. */
  readonly env?: Env;
  readonly fetch?: typeof globalThis.fetch;
  /** Per attempt, like the SDK's requestTimeout. Default 3000. */
  readonly requestTimeoutMs?: number;
  /** Attempts in total. Default 2. */
  readonly maxAttempts?: number;
}

export interface AwsJsonClientOptions extends AwsJsonConnection {
  readonly service: AwsJsonService;
  /** `DynamoDB_20120810`, `TrentService`, `secretsmanager`. */
  readonly targetPrefix: string;
  readonly contentType: 'application/x-amz-json-1.0' | 'application/x-amz-json-1.1';
}

export interface AwsCallOptions {
  readonly abortSignal?: AbortSignal;
}

export interface AwsJsonClient {
  call(operation: string, input: unknown, options?: AwsCallOptions): Promise<JsonObject>;
}

/** An AWS error answer, shaped like the SDK's service exceptions. */
export class AwsServiceError extends Error {
  readonly $metadata: {
    readonly httpStatusCode: number;
    readonly requestId?: string;
    readonly attempts: number;
  };
  readonly $fault: 'client' | 'server';

  constructor(name: string, message: string, metadata: AwsServiceError['$metadata']) {
    super(message);
    this.name = name;
    this.$metadata = metadata;
    this.$fault = metadata.httpStatusCode >= 500 ? 'server' : 'client';
  }
}

/** The SDK's names for these services' endpoint variables (`AWS_ENDPOINT_URL_<SERVICE ID>`). */
const ENDPOINT_VARIABLES: Record<AwsJsonService, string> = {
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  kms: 'AWS_ENDPOINT_URL_KMS',
  secretsmanager: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
};

/** Rate refusals worth one retry. (LimitExceededException is left out: for KMS it is a quota, not a rate.) */
const THROTTLING = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ThrottledException',
]);

function endpointFor(service: AwsJsonService, region: string, env: Env): URL {
  const configured =
    env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true'
      ? undefined
      : env[ENDPOINT_VARIABLES[service]] || env.AWS_ENDPOINT_URL;
  if (configured) return new URL(configured);
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return new URL(`https://${service}.${region}.${suffix}/`);
}

function signerFrom(service: AwsJsonService, env: Env, cache: Map<string, ArrayBuffer>) {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new Error(`no AWS region for ${service}: set AWS_REGION`);
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(`no AWS credentials for ${service}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
  }
  const sessionToken = env.AWS_SESSION_TOKEN || undefined;
  // retries: 0 because aws4fetch only signs here; the retry below is ours.
  const aws = new AwsClient({
    accessKeyId,
    secretAccessKey,
    sessionToken,
    service,
    region,
    cache,
    retries: 0,
  });
  return { aws, endpoint: endpointFor(service, region, env), secrets: [secretAccessKey, sessionToken] };
}

/** AWS's error code, as the SDK reads it (`x-amzn-errortype`, `code`, `__type`): `ns#Name:http://…` → `Name`. */
function errorName(header: string | null, body: JsonObject | undefined): string | undefined {
  const fromBody = [body?.code, body?.__type].find((value) => typeof value === 'string' && value);
  const raw = header || (fromBody as string | undefined);
  if (!raw) return undefined;
  // A header may list several (`A, B`); the first is the error, as the SDK reads it.
  return raw.split(',')[0]!.split(':')[0]!.split('#').pop()?.trim() || undefined;
}

/** Some AWS messages echo the canonical request (InvalidSignatureException), session token included. */
function redact(message: string, secrets: readonly (string | undefined)[]): string {
  return secrets.reduce<string>(
    (text, secret) => (secret ? text.split(secret).join('[redacted]') : text),
    message,
  );
}

function parseJson(text: string): JsonObject | undefined {
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as JsonObject)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of an error answer kept on the error (the SDK's names for them). */
const ERROR_FIELDS = ['Item', 'CancellationReasons'] as const;

function errorFrom(
  response: Response,
  text: string,
  attempts: number,
  what: string,
  secrets: readonly (string | undefined)[],
): AwsServiceError {
  const body = parseJson(text);
  const status = response.status;
  const name = errorName(response.headers.get('x-amzn-errortype'), body) ?? 'UnknownError';
  const awsMessage = body?.message ?? body?.Message;
  const message =
    typeof awsMessage === 'string' && awsMessage ? awsMessage : `${what} failed with HTTP ${status}`;
  const requestId = response.headers.get('x-amzn-requestid') ?? response.headers.get('x-amz-request-id');
  const error = new AwsServiceError(name, redact(message, secrets), {
    httpStatusCode: status,
    attempts,
    ...(requestId ? { requestId } : {}),
  });
  // Like the SDK, the fields callers read ride on the error (DynamoDB's `Item` on a refused
  // condition); nothing else of the body is kept, as it may quote the request back.
  for (const key of ERROR_FIELDS) {
    if (body?.[key] !== undefined) Object.assign(error, { [key]: body[key] });
  }
  return error;
}

/** Network failures and per-attempt timeouts: worth a retry, unlike a missing region or credentials. */
const transient = new WeakSet<Error>();

function transientError(name: 'TimeoutError' | 'NetworkError', message: string, cause?: unknown): Error {
  const error = Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { name });
  transient.add(error);
  return error;
}

function retryable(error: unknown): boolean {
  if (error instanceof AwsServiceError) {
    const status = error.$metadata.httpStatusCode;
    return status >= 500 || status === 429 || THROTTLING.has(error.name);
  }
  return error instanceof Error && transient.has(error);
}

/** The network error's own reason (`ECONNREFUSED` …); fetch itself only says "fetch failed". */
function networkDetail(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = cause && typeof cause === 'object' && 'code' in cause ? String(cause.code) : undefined;
  return (
    code ?? (cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error))
  );
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : Object.assign(new Error('aborted'), { name: 'AbortError' });
}

export function createAwsJsonClient(options: AwsJsonClientOptions): AwsJsonClient {
  const { service, targetPrefix, contentType } = options;
  const env = options.env ?? process.env;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.requestTimeoutMs ?? 3_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 2);
  // aws4fetch's signing-key cache, kept across calls (one HMAC chain per day instead of per call).
  const signingKeys = new Map<string, ArrayBuffer>();
  // Region, endpoint and credentials read once, on the first call (Lambda's do not change within an
  // instance); a missing one is refused on every call, without anything sent.
  let signer: ReturnType<typeof signerFrom> | undefined;

  /** One signed request and its answer; throws AwsServiceError, or a transient TimeoutError / NetworkError. */
  async function attempt(operation: string, body: string, attempts: number, caller: AbortSignal | undefined) {
    signer ??= signerFrom(service, env, signingKeys);
    const { aws, endpoint, secrets } = signer;
    const what = `${service} ${operation}`;
    const request = await aws.sign(endpoint.href, {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-amz-target': `${targetPrefix}.${operation}` },
      body,
    });
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = caller ? AbortSignal.any([caller, timeout]) : timeout;
    try {
      // Never followed: a redirect would carry the signed body and session token to another origin.
      const response = await fetchImpl(request, { signal, redirect: 'manual' });
      const text = await response.text();
      if (!response.ok) throw errorFrom(response, text, attempts, what, secrets);
      const output = parseJson(text);
      if (!output) {
        const metadata = { httpStatusCode: response.status, attempts };
        throw new AwsServiceError('UnknownError', `${what} answered with a non-JSON body`, metadata);
      }
      return output;
    } catch (error) {
      if (caller?.aborted) throw abortReason(caller);
      if (error instanceof AwsServiceError) throw error;
      if (timeout.aborted) {
        throw transientError('TimeoutError', `${what} did not answer within ${timeoutMs} ms`);
      }
      throw transientError('NetworkError', `${what} could not reach AWS: ${networkDetail(error)}`, error);
    }
  }

  return {
    async call(operation, input, callOptions) {
      const caller = callOptions?.abortSignal;
      const body = JSON.stringify(input ?? {});
      for (let attempts = 1; ; attempts++) {
        if (caller?.aborted) throw abortReason(caller);
        try {
          return await attempt(operation, body, attempts, caller);
        } catch (error) {
          if (attempts >= maxAttempts || caller?.aborted || !retryable(error)) throw error;
        }
        // A short jittered pause, cut short by the caller's abort.
        await delay(25 + Math.random() * 75, undefined, caller ? { signal: caller } : undefined).catch(() => {
          throw abortReason(caller!);
        });
      }
    },
  };
}
