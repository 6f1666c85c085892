import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { formatKeyPath } from '../functions/core/config/parse.ts';
import { type GatewayConfig, isLocalOrigin, type RouteConfig } from '../functions/core/config/schema.ts';
import { LAMBDA_ENVIRONMENT_LIMIT_BYTES } from './defaults.ts';

/**
 * The checks `cdk synth` adds to the config schema: what a deployed gateway needs (an account, a
 * region, a Route 53 zone around every host, an identity provider to create or use) and what only
 * the local gateway may use (loopback origins, plain-HTTP or private upstreams, secrets from
 * environment variables). Pure: no CDK, no file system, so tests call it directly and `bin/app.ts`
 * only prints what it returns.
 */

export type DeployProblemCode =
  | 'missing_region'
  | 'missing_account'
  | 'local_only_setting'
  | 'local_origin'
  | 'origin_port'
  | 'insecure_upstream'
  | 'private_upstream'
  | 'local_secret'
  | 'partial_secret_arn'
  | 'reserved_domain_prefix'
  | 'missing_hosted_zone'
  | 'host_outside_zone'
  | 'routes_too_large'
  | 'authorization_settings_too_large';

export interface DeployProblem {
  /** The key path, as the schema's messages write it (`routes[1].from`). */
  readonly path: string;
  readonly code: DeployProblemCode;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

export interface HostedZoneRef {
  readonly id: string;
  readonly name: string;
}

/** A route as deployed: its config, the host CloudFront answers for, and the zone that host lives in. */
export interface DeployRoute {
  readonly config: RouteConfig;
  readonly host: string;
  readonly zone: HostedZoneRef;
}

/** The identity provider as the login function reads it from `MCP_EDGE_IDP`. */
export interface DeployIdp {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecretArn?: string;
  /** A user pool's hosted-UI sign-out, `https://{domain}/logout` (Cognito names no end_session_endpoint). */
  readonly cognitoLogoutEndpoint?: string;
}

/**
 * How people sign in to the gateway. `cognito` (the default, also when the config has no `idp`):
 * the gateway stack creates a user pool, its domain and one public app client. `oidc`: an existing
 * issuer from the config, its client secret (if any) in Secrets Manager.
 */
export type DeploymentIdp =
  | {
      readonly kind: 'cognito';
      /**
       * The Cognito domain prefix (`https://{prefix}.auth.{region}.amazoncognito.com`): the
       * configured one, else {@link defaultCognitoDomainPrefix}.
       */
      readonly domainPrefix: string;
    }
  | { readonly kind: 'oidc'; readonly settings: DeployIdp };

/**
 * The route's authorization server settings as the authorization function reads them from
 * `MCP_EDGE_AUTHORIZATION`: the config's keys of the same names, each only when configured.
 */
export type DeployAuthorization = Pick<GatewayConfig, 'trustPolicy' | 'mcpClients' | 'tokens'>;

/** Everything the stacks are built from, after every check passed. */
export interface Deployment {
  readonly account: string;
  readonly region: string;
  /** Prefixes the deployment's names (lib/deployment-names.ts); absent: the original names. */
  readonly deploymentName: string | undefined;
  /**
   * Whether the gateway stack sets the account's API Gateway CloudWatch Logs role in its region
   * (`aws.apiGatewayCloudWatchRole`, default true).
   */
  readonly apiGatewayCloudWatchRole: boolean;
  readonly routes: readonly DeployRoute[];
  readonly idp: DeploymentIdp;
  /** The routes' `upstream.clientSecret.secretArn`s, each once. */
  readonly upstreamSecretArns: readonly string[];
  readonly authorization: DeployAuthorization;
  /** AWS WAF's per-address budgets (`protection`), as configured; defaults apply in lib/waf.ts. */
  readonly protection: NonNullable<GatewayConfig['protection']>;
  /** Where alarms notify and the proxy latency threshold (`alarms`), as configured. */
  readonly alarms: NonNullable<GatewayConfig['alarms']>;
}

export type DeployCheckResult =
  | { ok: true; deployment: Deployment }
  | { ok: false; problems: DeployProblem[] };

export interface DeployCheckEnv {
  /** Used when the config has no `aws.account` (the CDK CLI sets `CDK_DEFAULT_ACCOUNT` from credentials). */
  readonly defaultAccount?: string | undefined;
}

/**
 * The part of a function's 4 KiB environment the config may take: the route table with the
 * identity provider (`MCP_EDGE_ROUTES`, `MCP_EDGE_IDP`: login) or with the authorization settings
 * (`MCP_EDGE_ROUTES`, `MCP_EDGE_AUTHORIZATION`: authorization). The rest is left for the variable
 * names, the origin secret, the table name, the two key ARNs, the proxy's sealing secret ARN,
 * `NODE_OPTIONS` and the telemetry's service, namespace and function name (about 680 bytes at most,
 * the proxy's; test/infra/authorization.test.ts adds them up for every function).
 */
export const CONFIG_ENVIRONMENT_BUDGET_BYTES = LAMBDA_ENVIRONMENT_LIMIT_BYTES - 704;

/** The value of `MCP_EDGE_ROUTES`: the validated route configs, as the functions parse them. */
export function routesEnvironmentValue(routes: readonly RouteConfig[]): string {
  return JSON.stringify(routes);
}

/**
 * The value of `MCP_EDGE_AUTHORIZATION`: `{ trustPolicy, mcpClients, tokens }`, each key only when
 * the config has it (`{}` when it has none).
 */
export function authorizationEnvironmentValue(config: DeployAuthorization): string {
  const { trustPolicy, mcpClients, tokens } = config;
  return JSON.stringify({
    ...(trustPolicy === undefined ? {} : { trustPolicy }),
    ...(mcpClients === undefined ? {} : { mcpClients }),
    ...(tokens === undefined ? {} : { tokens }),
  });
}

/** The value of `MCP_EDGE_IDP` (functions/adapters/lambda-services.ts). */
export function idpEnvironmentValue(idp: DeployIdp): string {
  return JSON.stringify(idp);
}

/**
 * The Cognito domain prefix used when the config names none: `mcp-edge-` and 12 hex digits of the
 * SHA-256 of the account and region (and the `deploymentName`, when there is one: two deployments
 * in one region get two domains). Stable (the same deployment always gets the same domain, so
 * redeploying never replaces it), valid (lower-case letters, digits and hyphens, no reserved word)
 * and, since prefixes are unique per region across all of AWS, unlikely to be taken already. It
 * appears in sign-in URLs; name your own with `idp: { cognito: { domainPrefix } }`.
 */
export function defaultCognitoDomainPrefix(account: string, region: string, deploymentName?: string): string {
  const named = deploymentName === undefined ? '' : `/${deploymentName}`;
  return `mcp-edge-${createHash('sha256').update(`${account}/${region}${named}`).digest('hex').slice(0, 12)}`;
}

/** Cognito refuses domain prefixes that contain these words. */
const RESERVED_PREFIX_WORDS = ['aws', 'amazon', 'cognito'] as const;

/**
 * The longest `MCP_EDGE_IDP` a Cognito user pool can produce, for the environment budget: the
 * issuer is `https://cognito-idp.{region}.{url suffix}/{region}_{9 characters}`, an app client
 * ID has at most 128 characters (Cognito issues 26 today), and the sign-out endpoint is on the
 * domain, whose prefix has at most 63.
 */
function cognitoIdpPlaceholder(region: string): DeployIdp {
  return {
    issuer: `https://cognito-idp.${region}.amazonaws.com.cn/${region}_${'X'.repeat(9)}`,
    clientId: 'x'.repeat(128),
    cognitoLogoutEndpoint: `https://${'x'.repeat(63)}.auth.${region}.amazoncognito.com.cn/logout`,
  };
}

/** A complete Secrets Manager ARN ends in `-` and the six characters Secrets Manager appends. */
const FULL_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;

/** `path: message` lines, in config order. */
export function formatProblems(problems: readonly DeployProblem[]): string[] {
  return problems.map((p) => `${p.path}: ${p.message}`);
}

/** Checks a schema-valid config for deployment to AWS and resolves each route's hosted zone. */
export function checkDeployConfig(config: GatewayConfig, env: DeployCheckEnv = {}): DeployCheckResult {
  const problems: DeployProblem[] = [];
  const add = (path: readonly PropertyKey[], code: DeployProblemCode, message: string) =>
    problems.push({ path: formatKeyPath(path), code, message });

  const region = config.aws?.region;
  if (!region) {
    add(
      ['aws', 'region'],
      'missing_region',
      'is required to deploy; add `aws: { account: "123456789012", region: "eu-west-1" }` with the region the gateway runs in',
    );
  }
  const account = config.aws?.account ?? env.defaultAccount;
  if (!account) {
    add(
      ['aws', 'account'],
      'missing_account',
      'is required to synthesize without AWS credentials; add the 12-digit account ID to `aws.account` (or run with credentials so the CDK CLI sets CDK_DEFAULT_ACCOUNT)',
    );
  }

  const routes: DeployRoute[] = [];
  config.routes.forEach((route, index) => {
    const at = (...rest: PropertyKey[]) => ['routes', index, ...rest];
    const url = new URL(route.from);

    if (route.allowPrivateNetwork) {
      add(
        at('allowPrivateNetwork'),
        'local_only_setting',
        'is for the local gateway only; remove it (a deployed route never connects to private or loopback addresses)',
      );
    }
    if (route.allowInsecureUpstream) {
      add(
        at('allowInsecureUpstream'),
        'local_only_setting',
        'is for the local gateway only; remove it and give `to` an https URL',
      );
    }
    const publicHost = !isLocalOrigin(route.from) && !ipaddr.isValid(url.hostname.replace(/^\[|\]$/g, ''));
    if (!publicHost) {
      add(
        at('from'),
        'local_origin',
        `${JSON.stringify(route.from)} is not a public DNS name; a deployed route needs a host in a Route 53 hosted zone, like "https://mcp.example.com"`,
      );
    } else if (url.port) {
      add(
        at('from'),
        'origin_port',
        `CloudFront serves HTTPS on port 443 only; remove ":${url.port}" (use "https://${url.hostname}")`,
      );
    }

    const upstream = new URL(route.to);
    if (upstream.protocol !== 'https:') {
      add(
        at('to'),
        'insecure_upstream',
        `must be an https URL when deployed, got ${JSON.stringify(route.to)}`,
      );
    }
    if (isPrivateHost(upstream.hostname)) {
      add(
        at('to'),
        'private_upstream',
        `points at a loopback or private address (${upstream.hostname}), which a deployed gateway never connects to; use the upstream's public URL`,
      );
    }
    if (route.upstream?.clientSecret?.env) {
      add(at('upstream', 'clientSecret', 'env'), 'local_secret', LOCAL_SECRET);
    }
    const upstreamArn = route.upstream?.clientSecret?.secretArn;
    if (upstreamArn && !FULL_SECRET_ARN.test(upstreamArn)) {
      add(at('upstream', 'clientSecret', 'secretArn'), 'partial_secret_arn', PARTIAL_ARN);
    }

    // A loopback or IP-literal origin is reported above; it has no zone to be in.
    if (!publicHost) return;
    const zone = route.hostedZone ?? config.hostedZone;
    if (!zone) {
      add(
        at('hostedZone'),
        'missing_hosted_zone',
        `no Route 53 hosted zone for ${url.hostname}; add a top-level \`hostedZone: { id, name }\` or one on this route`,
      );
    } else if (!isInZone(url.hostname, zone.name)) {
      add(
        route.hostedZone ? at('hostedZone', 'name') : at('from'),
        'host_outside_zone',
        `${url.hostname} is not inside the hosted zone ${JSON.stringify(zone.name)} (${zone.id}); use a host ending in ".${zone.name}" or give this route its own \`hostedZone\``,
      );
    } else {
      routes.push({ config: route, host: url.hostname, zone: { id: zone.id, name: zone.name } });
    }
  });

  let idp: DeploymentIdp | undefined;
  let idpBytes = 0;
  if (!config.idp || 'cognito' in config.idp) {
    const configured = config.idp?.cognito.domainPrefix;
    const reserved = RESERVED_PREFIX_WORDS.filter((word) => configured?.includes(word));
    if (configured && reserved.length > 0) {
      add(
        ['idp', 'cognito', 'domainPrefix'],
        'reserved_domain_prefix',
        `${JSON.stringify(configured)} contains ${reserved.map((w) => `"${w}"`).join(' and ')}, which Cognito does not allow in a domain prefix; choose another prefix, like "mcp-edge-example"`,
      );
    }
    if (region && account) {
      idp = {
        kind: 'cognito',
        domainPrefix: configured ?? defaultCognitoDomainPrefix(account, region, config.deploymentName),
      };
    }
    // Without a region the deployment is refused above; the budget then counts the routes alone.
    if (region) idpBytes = Buffer.byteLength(idpEnvironmentValue(cognitoIdpPlaceholder(region)));
  } else {
    const secret = config.idp.clientSecret;
    if (secret?.env) add(['idp', 'clientSecret', 'env'], 'local_secret', LOCAL_SECRET);
    if (secret?.secretArn && !FULL_SECRET_ARN.test(secret.secretArn)) {
      add(['idp', 'clientSecret', 'secretArn'], 'partial_secret_arn', PARTIAL_ARN);
    }
    const settings: DeployIdp = {
      issuer: config.idp.issuer,
      clientId: config.idp.clientId,
      ...(secret?.secretArn ? { clientSecretArn: secret.secretArn } : {}),
    };
    idp = { kind: 'oidc', settings };
    idpBytes = Buffer.byteLength(idpEnvironmentValue(settings));
  }

  if (config.trustPolicy?.allowPrivateNetwork) {
    add(
      ['trustPolicy', 'allowPrivateNetwork'],
      'local_only_setting',
      'is for the local gateway only; remove it (a deployed gateway never fetches client metadata documents from private or loopback addresses)',
    );
  }
  const authorization: DeployAuthorization = {
    ...(config.trustPolicy === undefined ? {} : { trustPolicy: config.trustPolicy }),
    ...(config.mcpClients === undefined ? {} : { mcpClients: config.mcpClients }),
    ...(config.tokens === undefined ? {} : { tokens: config.tokens }),
  };

  const routesBytes = Buffer.byteLength(routesEnvironmentValue(config.routes));
  const authorizationBytes = Buffer.byteLength(authorizationEnvironmentValue(authorization));
  if (routesBytes + idpBytes > CONFIG_ENVIRONMENT_BUDGET_BYTES) {
    add(
      ['routes'],
      'routes_too_large',
      `the route table (and identity provider) take ${routesBytes + idpBytes} bytes as JSON, more than the ${CONFIG_ENVIRONMENT_BUDGET_BYTES} bytes the functions' 4 KiB environment leaves for them; shorten optional fields (cimd, names) or split the routes over two deployments`,
    );
  } else if (routesBytes + authorizationBytes > CONFIG_ENVIRONMENT_BUDGET_BYTES) {
    const { path, parts } = authorizationSizes(authorization);
    add(
      path,
      'authorization_settings_too_large',
      `the authorization settings (trustPolicy, mcpClients, tokens) take ${authorizationBytes} bytes as JSON (${parts}) and the route table ${routesBytes}; together more than the ${CONFIG_ENVIRONMENT_BUDGET_BYTES} bytes the authorization function's 4 KiB environment leaves for them. Pinned client documents are usually the big part: pin fewer clients in trustPolicy.pinnedClients (the others are fetched), or keep only the fields a pinned document needs (client_id, client_name, redirect_uris and what the client relies on); shorten mcpClients, or split the routes over two deployments`,
    );
  }

  if (problems.length > 0 || !region || !account || !idp) return { ok: false, problems };
  const upstreamSecretArns = [
    ...new Set(config.routes.flatMap((r) => r.upstream?.clientSecret?.secretArn ?? [])),
  ];
  return {
    ok: true,
    deployment: {
      account,
      region,
      deploymentName: config.deploymentName,
      apiGatewayCloudWatchRole: config.aws?.apiGatewayCloudWatchRole ?? true,
      routes,
      idp,
      upstreamSecretArns,
      authorization,
      protection: config.protection ?? {},
      alarms: config.alarms ?? {},
    },
  };
}

/**
 * Where the authorization settings' bytes go, for the size message: its path is the largest part
 * (pinned client documents, pre-registered clients, or the rest of the trust policy and tokens).
 */
function authorizationSizes(settings: DeployAuthorization): { path: PropertyKey[]; parts: string } {
  const bytes = (value: unknown) => (value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value)));
  const pinned = bytes(settings.trustPolicy?.pinnedClients);
  const clients = bytes(settings.mcpClients);
  const sizes: [PropertyKey[], string, number][] = [
    [['trustPolicy', 'pinnedClients'], 'trustPolicy.pinnedClients', pinned],
    [['mcpClients'], 'mcpClients', clients],
    [
      ['trustPolicy'],
      'the rest',
      Buffer.byteLength(authorizationEnvironmentValue(settings)) - pinned - clients,
    ],
  ];
  const largest = sizes.reduce((a, b) => (b[2] > a[2] ? b : a));
  return { path: largest[0], parts: sizes.map(([, name, n]) => `${name} ${n}`).join(', ') };
}

const LOCAL_SECRET =
  'environment variables are read by the local gateway only; store the secret in Secrets Manager and use `clientSecret: { secretArn: "arn:aws:secretsmanager:..." }`';
const PARTIAL_ARN =
  'use the complete secret ARN, ending in "-" and the six characters Secrets Manager appends (the functions are granted exactly this ARN)';

/** `mcp.example.com` is in `example.com` (and so is `example.com` itself); `mcp.other.org` is not. */
export function isInZone(host: string, zoneName: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const z = zoneName.toLowerCase().replace(/\.$/, '');
  return h === z || h.endsWith(`.${z}`);
}

function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (!ipaddr.isValid(host)) return false;
  let address = ipaddr.parse(host);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
  }
  return address.range() !== 'unicast';
}
