import { z } from 'zod';
import { validateClientMetadata } from '../cimd/document-rules.ts';
import { validateClientIdUrl } from '../cimd/url-rules.ts';
import { describeMcpPathProblem, mcpPathOf } from './mcp-path.ts';

export { describeMcpPathProblem, mcpPathOf };

/**
 * The operator's configuration contract (DESIGN.md "Config contract").
 *
 * Every object is strict: an unknown key is an error, so a typo never silently
 * turns a setting off. Messages name what is wrong and what is accepted; the
 * key path is added by {@link formatConfigIssues}.
 */

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for `https://localhost:PORT`-style origins, which only the local gateway may use. */
export function isLocalOrigin(origin: string): boolean {
  try {
    return LOCAL_HOSTS.has(new URL(origin).hostname);
  } catch {
    return false;
  }
}

function describeOriginProblem(value: string): string | undefined {
  const expected = 'must be an https origin without a path';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${expected} (like "https://mcp.example.com"), got ${JSON.stringify(value)}`;
  }
  if (url.protocol !== 'https:') return `${expected}; only https is served, got ${JSON.stringify(value)}`;
  if (url.username || url.password || value.includes('@')) {
    return `${expected} and without user info, got ${JSON.stringify(value)}`;
  }
  if (url.pathname !== '/' || url.search || url.hash || /[?#]/.test(value)) {
    return `${expected}, query or fragment, got ${JSON.stringify(value)}`;
  }
  if (value.endsWith('/')) return `${expected}; drop the trailing "/", got ${JSON.stringify(value)}`;
  if (value !== `https://${url.host}`) {
    return `${expected}, written in lower case with a default port omitted (use "https://${url.host}"), got ${JSON.stringify(value)}`;
  }
  return undefined;
}

const originSchema = z.string().superRefine((value, ctx) => {
  const problem = describeOriginProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const httpsUrl = (what: string) =>
  z.string().refine(
    (value) => {
      try {
        return new URL(value).protocol === 'https:';
      } catch {
        return false;
      }
    },
    { error: (issue) => `${what} must be an absolute https URL, got ${JSON.stringify(issue.input)}` },
  );

const secretRef = z
  .strictObject({
    env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional(),
    secretArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:secretsmanager:/, 'must be a Secrets Manager secret ARN')
      .optional(),
  })
  .refine((s) => Boolean(s.env) !== Boolean(s.secretArn), {
    error: 'give exactly one of "env" (local) or "secretArn" (AWS)',
  });

const hostedZone = z.strictObject({
  id: z.string().regex(/^Z[A-Z0-9]{1,32}$/, 'must be a Route 53 hosted zone ID like "Z0123456789ABC"'),
  name: z
    .string()
    .regex(/^([a-z0-9-]+\.)+[a-z]{2,}\.?$/, 'must be a lower-case DNS name like "example.com"')
    .transform((n) => n.replace(/\.$/, '')),
});

const upstreamUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: `must be an absolute URL of the upstream MCP endpoint, got ${JSON.stringify(value)}`,
    });
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    ctx.addIssue({ code: 'custom', message: `must be an https URL, got ${JSON.stringify(value)}` });
  }
  if (url.username || url.password) {
    ctx.addIssue({
      code: 'custom',
      message: 'must not carry credentials in the URL; use "upstream.clientSecret"',
    });
  }
  if (url.hash)
    ctx.addIssue({ code: 'custom', message: `must not have a fragment, got ${JSON.stringify(value)}` });
});

const mcpPathSchema = z.string().superRefine((value, ctx) => {
  const problem = describeMcpPathProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const routeSchema = z
  .strictObject({
    from: originSchema,
    to: upstreamUrl,
    name: z.string().min(1).max(100).optional(),
    clientName: z.string().min(1).max(200).optional(),
    cimd: z
      .strictObject({
        logoUri: httpsUrl('logoUri').optional(),
        contacts: z.array(z.email('must be an email address')).max(10).optional(),
        tosUri: httpsUrl('tosUri').optional(),
        policyUri: httpsUrl('policyUri').optional(),
      })
      .optional(),
    upstream: z
      .strictObject({
        clientId: z.string().min(1).optional(),
        clientSecret: secretRef.optional(),
        scopes: z
          .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be an OAuth scope token'))
          .optional(),
        authorizationServer: httpsUrl('authorizationServer').optional(),
        authorizationParams: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    hostedZone: hostedZone.optional(),
    allowInsecureUpstream: z.boolean().optional(),
    allowPrivateNetwork: z.boolean().optional(),
    path: mcpPathSchema.optional(),
  })
  .superRefine((route, ctx) => {
    if (route.to.startsWith('http:') && !route.allowInsecureUpstream) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `must be an https URL (set "allowInsecureUpstream: true" only for local development), got ${JSON.stringify(route.to)}`,
      });
    }
    if (route.upstream?.clientSecret && !route.upstream.clientId) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstream', 'clientSecret'],
        message: 'needs "upstream.clientId": a secret belongs to a pre-registered client',
      });
    }
    if (route.upstream?.clientSecret && !route.upstream.authorizationServer) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstream', 'authorizationServer'],
        message:
          'is needed with "upstream.clientSecret": the secret is sent only to the token endpoint of this issuer, never to one an upstream names',
      });
    }
    if (route.path === undefined) {
      const derived = mcpPathOf(route.to);
      const problem = describeMcpPathProblem(derived);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          path: ['path'],
          message: `is needed: the path of "to" (${JSON.stringify(derived)}) cannot be the route's MCP endpoint (it ${problem.replace(/, got .*$/, '')}); set "path" explicitly`,
        });
      }
    }
  });

/** `example.com` (itself) or `*.example.com` (its subdomains), lower case, no port. */
const domainPattern = z
  .string()
  .regex(
    /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    'must be a lower-case domain like "example.com" or "*.example.com"',
  );

/** An MCP client's redirect URI: https, or http on a loopback address (RFC 8252 §7.3). */
const redirectUriSchema = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `must be an absolute URL, got ${JSON.stringify(value)}` });
    return;
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be https, or http on 127.0.0.1, [::1] or localhost, got ${JSON.stringify(value)}`,
    });
  }
  if (url.hash || value.includes('#')) {
    ctx.addIssue({ code: 'custom', message: `must not have a fragment, got ${JSON.stringify(value)}` });
  }
});

const trustPolicySchema = z.strictObject({
  trustedDomains: z.array(domainPattern).max(100).optional(),
  blockedDomains: z.array(domainPattern).max(100).optional(),
  autoApproveTrusted: z.boolean().optional(),
  allowUnlisted: z.boolean().optional(),
  allowDynamicRegistration: z.boolean().optional(),
  pinnedClients: z.record(z.string(), z.looseObject({})).optional(),
  allowPrivateNetwork: z.boolean().optional(),
});

const mcpClientsSchema = z
  .array(
    z.strictObject({
      clientId: z
        .string()
        .regex(/^[\x21-\x7E]{1,255}$/, 'must be 1-255 visible ASCII characters')
        .refine((id) => !/^https?:/i.test(id), {
          error:
            'must not be a URL: URL client IDs are Client ID Metadata Documents (use trustPolicy.pinnedClients)',
        }),
      name: z.string().min(1).max(200),
      redirectUris: z.array(redirectUriSchema).min(1).max(20),
    }),
  )
  .max(100);

const tokensSchema = z.strictObject({
  accessTokenTtlSeconds: z
    .number()
    .int()
    .min(60, 'must be at least 60 seconds')
    .max(3600, 'must be at most 3600 seconds (access tokens are not revocable before they expire)')
    .optional(),
  refreshTokenTtlDays: z.number().int().min(1).max(365).optional(),
});

/**
 * AWS WAF's per-client-address budgets when the config sets none (requests in any five minutes
 * from one address, counted by CloudFront's web ACL across every route host): everything, and the
 * entry points of the endpoint table (sign-in, authorize, token, registration, revocation).
 */
export const PROTECTION_DEFAULTS = {
  requestsPerFiveMinutesPerIp: 3000,
  entryPointRequestsPerFiveMinutesPerIp: 300,
} as const;

/** AWS WAF's bounds on a rate-based rule's limit. */
const wafRateLimit = z
  .number()
  .int()
  .min(10, "must be at least 10 (AWS WAF's smallest rate limit)")
  .max(2_000_000_000, "must be at most 2,000,000,000 (AWS WAF's largest rate limit)");

const protectionSchema = z
  .strictObject({
    requestsPerFiveMinutesPerIp: wafRateLimit.optional(),
    entryPointRequestsPerFiveMinutesPerIp: wafRateLimit.optional(),
  })
  .superRefine((protection, ctx) => {
    const all = protection.requestsPerFiveMinutesPerIp ?? PROTECTION_DEFAULTS.requestsPerFiveMinutesPerIp;
    const entry =
      protection.entryPointRequestsPerFiveMinutesPerIp ??
      PROTECTION_DEFAULTS.entryPointRequestsPerFiveMinutesPerIp;
    if (entry > all) {
      ctx.addIssue({
        code: 'custom',
        path: ['entryPointRequestsPerFiveMinutesPerIp'],
        message: `is ${entry}, more than requestsPerFiveMinutesPerIp (${all}), which every request counts against; lower it or raise requestsPerFiveMinutesPerIp`,
      });
    }
  });

/** An SNS standard topic (CloudWatch alarms cannot notify FIFO topics). */
const snsTopicArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$/,
    'must be the ARN of an SNS standard topic, like "arn:aws:sns:eu-west-1:123456789012:alarms"',
  );

/** The p99 of the proxy's latency above which its alarm fires when the config sets none, in ms. */
export const PROXY_LATENCY_P99_DEFAULT_MS = 5000;

const alarmsSchema = z.strictObject({
  email: z.email('must be an email address').optional(),
  topicArn: snsTopicArn.optional(),
  edgeTopicArn: snsTopicArn.optional(),
  proxyLatencyP99Ms: z
    .number()
    .int()
    .min(100, 'must be at least 100 ms')
    .max(900_000, 'must be at most 900000 ms (API Gateway ends a request after 15 minutes)')
    .optional(),
});

/** CloudFront's web ACLs, and so their metrics and the alarm on them, live in this region. */
const EDGE_REGION = 'us-east-1';

/** The region of an ARN (`arn:partition:service:region:...`). */
function arnRegion(arn: string): string | undefined {
  return arn.split(':')[3];
}

/**
 * Alarm notifications: CloudWatch only notifies a topic in the alarm's own region. The gateway's
 * alarms are in `aws.region`; the AWS WAF alarm is in us-east-1, where CloudFront's web ACL reports.
 */
function checkAlarmTopics(
  alarms: z.output<typeof alarmsSchema> | undefined,
  region: string | undefined,
  ctx: z.RefinementCtx,
): void {
  if (!alarms) return;
  const at = (key: string) => ['alarms', key];
  if (alarms.topicArn && region && arnRegion(alarms.topicArn) !== region) {
    ctx.addIssue({
      code: 'custom',
      path: at('topicArn'),
      message: `is a topic in ${arnRegion(alarms.topicArn)}, but the gateway's alarms are in aws.region (${region}) and CloudWatch only notifies topics in the alarm's region; use a topic in ${region}`,
    });
  }
  if (alarms.edgeTopicArn && arnRegion(alarms.edgeTopicArn) !== EDGE_REGION) {
    ctx.addIssue({
      code: 'custom',
      path: at('edgeTopicArn'),
      message: `must be a topic in ${EDGE_REGION}, where CloudFront's AWS WAF metrics and their alarm are, got one in ${arnRegion(alarms.edgeTopicArn)}`,
    });
  }
  const topicServesEdge = alarms.topicArn !== undefined && arnRegion(alarms.topicArn) === EDGE_REGION;
  if (alarms.topicArn && !alarms.email && !alarms.edgeTopicArn && !topicServesEdge) {
    ctx.addIssue({
      code: 'custom',
      path: at('edgeTopicArn'),
      message: `is needed with a topicArn outside ${EDGE_REGION}: the AWS WAF alarm lives in ${EDGE_REGION} (CloudFront's web ACL reports there) and can only notify a topic there; add "edgeTopicArn" with a topic in ${EDGE_REGION}, or "email" to have the deployment create topics in both regions`,
    });
  }
}

/**
 * `deploymentName`: prefixes the names of a deployment's stacks, table, user pool, API and alarms
 * (lib/deployment-names.ts), so several deployments share an account and region. Lower-case
 * letters, digits and single hyphens, starting with a letter (CloudFormation stack names), at most
 * 16 characters (every name derived from it stays within its AWS limit).
 */
const deploymentNameSchema = z
  .string()
  .regex(
    /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,15}$/,
    'must be 1-16 lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen, like "team-a"',
  );

/** Cross-field checks of the authorization settings: pinned documents valid, client ids unique. */
function checkAuthorizationSettings(
  config: {
    trustPolicy?: z.output<typeof trustPolicySchema>;
    mcpClients?: z.output<typeof mcpClientsSchema>;
  },
  ctx: z.RefinementCtx,
): void {
  const pinned = config.trustPolicy?.pinnedClients ?? {};
  for (const [clientId, document] of Object.entries(pinned)) {
    const at = ['trustPolicy', 'pinnedClients', clientId];
    const url = validateClientIdUrl(clientId);
    const doc = validateClientMetadata(document, clientId);
    for (const finding of [...(url.ok ? [] : url.errors), ...(doc.ok ? [] : doc.errors)]) {
      ctx.addIssue({ code: 'custom', path: at, message: `${finding.rule}: ${finding.message}` });
    }
    const method = (document as { token_endpoint_auth_method?: unknown }).token_endpoint_auth_method;
    if (doc.ok && method !== undefined && method !== 'none') {
      ctx.addIssue({
        code: 'custom',
        path: at,
        message: `doc.token_endpoint_auth_method: must be "none" (the gateway accepts public MCP clients only), got ${JSON.stringify(method)}`,
      });
    }
  }
  const clientIds = new Set<string>();
  config.mcpClients?.forEach((client, index) => {
    if (clientIds.has(client.clientId)) {
      ctx.addIssue({
        code: 'custom',
        path: ['mcpClients', index, 'clientId'],
        message: `duplicates another entry's clientId ${JSON.stringify(client.clientId)}`,
      });
    }
    clientIds.add(client.clientId);
  });
}

/**
 * The settings of the gateway's own authorization server, as the authorization function reads
 * them from its environment (the same rules as in the config).
 */
export const authorizationSettingsSchema = z
  .strictObject({
    trustPolicy: trustPolicySchema.optional(),
    mcpClients: mcpClientsSchema.optional(),
    tokens: tokensSchema.optional(),
  })
  .superRefine(checkAuthorizationSettings);

export const configSchema = z
  .strictObject({
    aws: z
      .strictObject({
        account: z
          .string()
          .regex(/^\d{12}$/, 'must be a 12-digit AWS account ID')
          .optional(),
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like "eu-west-1"'),
        apiGatewayCloudWatchRole: z.boolean().optional(),
      })
      .optional(),
    deploymentName: deploymentNameSchema.optional(),
    hostedZone: hostedZone.optional(),
    routes: z.array(routeSchema).min(1, 'must list at least one route'),
    idp: z
      .union([
        z.strictObject({
          issuer: httpsUrl('issuer'),
          clientId: z.string().min(1),
          clientSecret: secretRef.optional(),
        }),
        z.strictObject({
          cognito: z.strictObject({
            domainPrefix: z
              .string()
              .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lower-case Cognito domain prefix'),
          }),
        }),
      ])
      .optional(),
    trustPolicy: trustPolicySchema.optional(),
    mcpClients: mcpClientsSchema.optional(),
    tokens: tokensSchema.optional(),
    protection: protectionSchema.optional(),
    alarms: alarmsSchema.optional(),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.routes.forEach((route, index) => {
      const key = route.from.toLowerCase();
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, 'from'],
          message: `duplicates routes[${first}].from ${JSON.stringify(route.from)}; each route needs its own origin`,
        });
      } else {
        seen.set(key, index);
      }
    });
    checkAuthorizationSettings(config, ctx);
    checkAlarmTopics(config.alarms, config.aws?.region, ctx);
  });

/** The config as the operator writes it. */
export type GatewayConfigInput = z.input<typeof configSchema>;
/** The config after validation and normalisation. */
export type GatewayConfig = z.output<typeof configSchema>;
export type RouteConfig = z.output<typeof routeSchema>;

/**
 * Identity function that gives `gateway.config.ts` type checking and editor help.
 * Validation happens when the config is loaded, not here.
 */
export function defineConfig(config: GatewayConfigInput): GatewayConfigInput {
  return config;
}
