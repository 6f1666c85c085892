import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as jose from 'jose';
import type { Account, Configuration, ErrorOut, JWK, KoaContextWithOIDC } from 'oidc-provider';
import type { RequestHandler } from './https-listener.ts';

type OidcProviderModule = typeof import('oidc-provider');

/**
 * Notices oidc-provider prints that describe exactly what the demo chose on purpose: it runs on
 * the repository's Node 20 (the library asks for 22+; the tests prove the flows work here), keeps
 * its state in memory, and signs people in with the development login form. Anything else the
 * library says still reaches the console.
 */
const EXPECTED_NOTICES = [
  'Unsupported runtime',
  'development-only in-memory adapter',
  'development-only feature devInteractions',
];

let quietDepth = 0;
let originals: Pick<Console, 'warn' | 'info'> | undefined;

function expected(args: unknown[]): boolean {
  const first = args[0];
  return (
    typeof first === 'string' &&
    first.includes('oidc-provider') &&
    EXPECTED_NOTICES.some((n) => first.includes(n))
  );
}

async function withoutExpectedNotices<T>(fn: () => T | Promise<T>): Promise<T> {
  if (quietDepth++ === 0) {
    originals = { warn: console.warn, info: console.info };
    const { warn, info } = originals;
    console.warn = (...args: unknown[]) => (expected(args) ? undefined : warn.apply(console, args));
    console.info = (...args: unknown[]) => (expected(args) ? undefined : info.apply(console, args));
  }
  try {
    return await fn();
  } finally {
    if (--quietDepth === 0 && originals) {
      console.warn = originals.warn;
      console.info = originals.info;
      originals = undefined;
    }
  }
}

let loaded: Promise<OidcProviderModule> | undefined;

/** The oidc-provider module, imported once without the expected notices (see above). */
export function loadOidcProvider(): Promise<OidcProviderModule> {
  loaded ??= withoutExpectedNotices(() => import('oidc-provider'));
  return loaded;
}

/** Constructs an oidc-provider without the demo's expected start-up notices (see above). */
export async function createProvider(issuer: string, configuration: Configuration) {
  const { default: Provider } = await loadOidcProvider();
  return withoutExpectedNotices(() => new Provider(issuer, configuration));
}

/** A fresh private JWKS for the provider and its public half for resource servers. */
export async function generateSigningKeys(
  algs: readonly ('RS256' | 'ES256')[],
): Promise<{ privateJwks: { keys: JWK[] }; publicJwks: jose.JSONWebKeySet }> {
  const privateKeys: JWK[] = [];
  const publicKeys: jose.JWK[] = [];
  for (const alg of algs) {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
    const kid = randomUUID();
    privateKeys.push({ ...(await jose.exportJWK(privateKey)), kid, alg, use: 'sig' } as JWK);
    publicKeys.push({ ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' });
  }
  return { privateJwks: { keys: privateKeys }, publicJwks: { keys: publicKeys } };
}

/**
 * Signed cookies with a per-run key and names of their own: browsers do not separate cookies by
 * port, so two providers on `localhost` with oidc-provider's default names would overwrite each
 * other's sessions.
 */
export function demoCookies(prefix: string): NonNullable<Configuration['cookies']> {
  return {
    keys: [randomBytes(32).toString('base64url')],
    names: {
      session: `${prefix}_session`,
      interaction: `${prefix}_interaction`,
      resume: `${prefix}_resume`,
    },
  };
}

/**
 * The demo's account model: whatever login name a person types is the account, with any
 * password. `alice` → sub `alice`, email `alice@example.com`, name `Alice`; a login that is
 * already an email address is used as the email.
 */
export async function findDemoAccount(_ctx: KoaContextWithOIDC, id: string): Promise<Account> {
  const local = id.includes('@') ? id.slice(0, id.indexOf('@')) : id;
  return {
    accountId: id,
    claims: () => ({
      sub: id,
      email: id.includes('@') ? id : `${id}@example.com`,
      email_verified: false,
      name: local.charAt(0).toUpperCase() + local.slice(1),
    }),
  };
}

function originOf(uri: string): string | undefined {
  try {
    return new URL(uri).origin;
  } catch {
    return undefined;
  }
}

function htmlEscape(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${htmlEscape(title)}</title></head><body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto">${body}</body></html>`;
}

/** Plain pages and policies for the helpers oidc-provider asks deployments to replace. */
export function demoProviderHelpers(name: string): Partial<Configuration> {
  return {
    findAccount: findDemoAccount,
    renderError: (ctx: KoaContextWithOIDC, out: ErrorOut) => {
      ctx.type = 'html';
      ctx.body = page(
        `${name}: error`,
        `<h1>${htmlEscape(name)}</h1><p><strong>${htmlEscape(out.error)}</strong></p><p>${htmlEscape(out.error_description ?? '')}</p>`,
      );
    },
    // CORS for browser-based public clients from their own redirect origins (the library's default).
    clientBasedCORS: (_ctx, origin, client) =>
      origin !== 'null' && (client.redirectUris ?? []).some((uri) => originOf(uri) === origin),
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 86_400,
      Grant: 14 * 86_400,
      RefreshToken: 14 * 86_400,
    },
  };
}

/** Logout pages for `features.rpInitiatedLogout`. */
export function demoLogoutPages(name: string) {
  return {
    logoutSource: (ctx: KoaContextWithOIDC, form: string) => {
      ctx.body = page(
        `${name}: sign out`,
        `<h1>Sign out of ${htmlEscape(name)}?</h1>${form}<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>`,
      );
    },
    postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => {
      ctx.body = page(`${name}: signed out`, `<h1>Signed out of ${htmlEscape(name)}</h1>`);
    },
  };
}

/**
 * The provider's request handler, with its metadata also at the RFC 8414 §3 location
 * (`/.well-known/oauth-authorization-server`; the issuers here have no path), which OAuth clients
 * try before OpenID Connect discovery.
 */
export function providerHandler(
  provider: { callback(): (req: IncomingMessage, res: ServerResponse) => unknown },
  observe?: (req: IncomingMessage, pathname: string) => void,
): RequestHandler {
  const callback = provider.callback();
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      req.url = `/.well-known/openid-configuration${url.search}`;
    }
    observe?.(req, url.pathname);
    await callback(req, res);
  };
}
