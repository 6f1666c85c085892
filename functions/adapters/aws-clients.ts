/**
 * Settings every AWS SDK client of the functions gets: a connection timeout, a per-attempt request
 * timeout and at most one retry, so a slow DynamoDB, KMS or Secrets Manager answer becomes a clear
 * error well inside the function's own timeout instead of the SDK's default of several retries
 * with no request timeout at all.
 */
export const AWS_CLIENT_SETTINGS = {
  maxAttempts: 2,
  // Without throwOnRequestTimeout the handler only logs a warning when requestTimeout passes.
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
} as const;
