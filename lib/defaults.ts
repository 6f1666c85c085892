import { Duration } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/**
 * The secure defaults of the infrastructure, in one place so a reviewer can read them at once.
 * Constructs take these unless a prop says otherwise.
 */

/** CloudFront only accepts certificates from this region. */
export const CLOUDFRONT_CERTIFICATE_REGION = 'us-east-1';

/** The stacks' names; a `deploymentName` prefixes them (lib/deployment-names.ts). */
export const STACK_NAMES = {
  certificates: 'McpEdgeCertificates',
  protection: 'McpEdgeProtection',
  gateway: 'McpEdgeGateway',
} as const;

/**
 * The header CloudFront adds to every origin request; the functions refuse requests without
 * the right value, so calls that bypass CloudFront (straight to the API Gateway endpoint) fail.
 */
export const ORIGIN_VERIFY_HEADER = 'x-mcp-edge-origin-verify';

/** The API Gateway stage every route's custom domain maps to. */
export const STAGE_NAME = 'live';

/** Stage-wide throttling (per account and region API Gateway also has its own quota). */
export const THROTTLING = { rateLimit: 100, burstLimit: 200 } as const;

/**
 * Method throttling of the endpoint table's `entry` rows (sign-in, OAuth authorize, token,
 * registration, revocation), below the stage's: requests per second and burst per method, over
 * all callers together. 20/s of token requests serve some 12,000 MCP clients refreshing every
 * 10 minutes.
 */
export const ENTRY_POINT_THROTTLING = { rateLimit: 20, burstLimit: 40 } as const;

/** How long function logs are kept. */
export const FUNCTION_LOG_RETENTION = RetentionDays.ONE_MONTH;
/** How long API Gateway access logs are kept. */
export const ACCESS_LOG_RETENTION = RetentionDays.THREE_MONTHS;

/**
 * The CIMD's edge cache: the edge honours the origin's `s-maxage` (the CIMD handler sends a day)
 * within [0, 24 h] and keeps a response without caching headers for an hour.
 */
export const CIMD_CACHE_TTL = {
  min: Duration.seconds(0),
  default: Duration.hours(1),
  max: Duration.hours(24),
} as const;

/** HSTS max-age: two years, above the one year that preload lists and audits ask for. */
export const HSTS_MAX_AGE = Duration.days(730);

/**
 * How long CloudFront waits for the origin's next bytes. 60 s is the most CloudFront allows
 * without a quota increase; streamed responses send keep-alive comments well within it.
 */
export const ORIGIN_READ_TIMEOUT = Duration.seconds(60);

/** Lambda's hard limit on the size of all environment variables of one function (keys and values). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/**
 * The password policy of the user pool the gateway creates: longer than cdk-nag's COG1 minimum
 * (8, with upper case, digits and symbols) and lower case too. A temporary password from
 * `admin-create-user` is good for a week.
 */
export const USER_POOL_PASSWORD_POLICY = {
  minLength: 12,
  requireLowercase: true,
  requireUppercase: true,
  requireDigits: true,
  requireSymbols: true,
  tempPasswordValidity: Duration.days(7),
} as const;

/**
 * Token lifetimes of the gateway's Cognito app client. The login function redeems the code once
 * and reads only the ID token; the gateway's own session (8 h) carries the sign-in from there, so
 * the access token is as short as Cognito allows and the refresh token, which Cognito always
 * issues, lives its minimum of an hour.
 */
export const SIGN_IN_TOKEN_VALIDITY = {
  idToken: Duration.hours(1),
  accessToken: Duration.minutes(5),
  refreshToken: Duration.hours(1),
} as const;
