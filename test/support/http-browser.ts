import { createHash, randomBytes } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { recordJsonBody, recordOAuthParameters, recordSecret } from './secrets.ts';

/** Records the secrets a request carries (bearer, form parameters) for the run's log check. */
function recordRequest(url: URL, headers: Record<string, string> | Headers | undefined, body: unknown): void {
  recordOAuthParameters(url.searchParams);
  const authorization =
    headers instanceof Headers
      ? headers.get('authorization')
      : (headers?.authorization ?? headers?.Authorization);
  recordSecret('gateway access token', /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1]);
  if (body instanceof URLSearchParams) recordOAuthParameters(body);
  else if (typeof body === 'string' && !body.startsWith('{'))
    recordOAuthParameters(new URLSearchParams(body));
}

/** Records the secrets an answer carries (session id, redirect parameters, token JSON). */
async function recordAnswer(headers: Headers, text: () => Promise<string>): Promise<void> {
  recordSecret('session id', headers.get('mcp-session-id'));
  const location = headers.get('location');
  if (location) {
    try {
      recordOAuthParameters(new URL(location, 'https://any.invalid').searchParams);
    } catch {
      // not a URL
    }
  }
  if (/json/i.test(headers.get('content-type') ?? '')) recordJsonBody(await text());
}

/**
 * A fetch that trusts the development CA (MCP SDK transports, direct calls to the demo servers).
 * The secrets it sends and receives are recorded for the run's log check (test/support/secrets.ts).
 */
export function caFetch(agent: Agent): typeof fetch {
  return (async (url: string | URL | Request, init?: RequestInit) => {
    const target = new URL(url instanceof Request ? url.url : url);
    recordRequest(target, init?.headers as Record<string, string> | Headers | undefined, init?.body);
    const res = await undiciFetch(url as string, { ...(init as object), dispatcher: agent });
    await recordAnswer(res.headers as unknown as Headers, () => res.clone().text());
    return res;
  }) as unknown as typeof fetch;
}

/** A PKCE verifier and its S256 challenge (RFC 7636). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  recordSecret('pkce verifier', verifier);
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface Exchange {
  readonly url: URL;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

function htmlUnescape(value: string): string {
  return value
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}

/** The gateway consent page's form as the browser would post it, with the chosen button. */
export function consentForm(html: string, decision: 'allow' | 'deny'): URLSearchParams {
  const form = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.set(
      match[1]!,
      match[2]!.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))),
    );
  }
  form.set('decision', decision);
  return form;
}

/** The value of a hidden form field, from a page's HTML (`&#NN;` entities decoded). */
export function hiddenField(html: string, name: string): string | undefined {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
  return value?.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));
}

/**
 * A scriptable browser for end-to-end flows over HTTPS: a cookie jar keyed by host (browsers do not
 * separate cookies by port), manual redirects, oidc-provider's development login and consent forms
 * filled by their hidden `prompt` field, and a record of every URL visited and every answer seen,
 * so tests can say what never reached the browser.
 */
export class HttpBrowser {
  readonly agent: Agent;
  /** Every URL requested, in order (authorization requests and callbacks included). */
  readonly visited: URL[] = [];
  /** Every answer received, with its body read in full. */
  readonly seen: Exchange[] = [];
  /** The `prompt` of every form submitted, in order (`login`, `consent`). */
  readonly prompts: string[] = [];
  /** Every gateway consent page answered (HTML), in order. */
  readonly consentPages: string[] = [];
  private readonly jar = new Map<string, Map<string, string>>();

  constructor(ca: string) {
    this.agent = new Agent({ connect: { ca } });
  }

  cookie(host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name);
  }

  setCookie(host: string, name: string, value: string | undefined): void {
    const cookies = this.jar.get(host) ?? new Map<string, string>();
    if (value === undefined) cookies.delete(name);
    else cookies.set(name, value);
    this.jar.set(host, cookies);
  }

  async request(
    url: URL,
    init: {
      method?: string;
      body?: URLSearchParams;
      accept?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Exchange> {
    const cookies = this.jar.get(url.hostname) ?? new Map<string, string>();
    const headers: Record<string, string> = { accept: init.accept ?? 'text/html', ...init.headers };
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    this.visited.push(url);
    recordRequest(url, headers, init.body);
    const res = await undiciFetch(url, {
      method: init.method ?? 'GET',
      headers,
      body: init.body,
      redirect: 'manual',
      dispatcher: this.agent,
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const value = pair.slice(pair.indexOf('=') + 1);
      const expired = attributes.some(
        (a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a),
      );
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
      recordSecret('cookie', value);
    }
    this.jar.set(url.hostname, cookies);
    const exchange = { url, status: res.status, headers: res.headers, body: await res.text() };
    await recordAnswer(res.headers as unknown as Headers, async () => exchange.body);
    this.seen.push(exchange);
    return exchange;
  }

  /**
   * Follows redirects and fills login/consent forms (as `login`, any password) from `start` until
   * a redirect to a URL `stop` accepts (returned without being fetched) or a page without such a
   * form (returned with its status and HTML).
   */
  async follow(
    start: URL,
    login: string,
    stop: (url: URL) => boolean = () => false,
    options: { consent?: 'allow' | 'deny' } = {},
  ): Promise<{ url: URL; status?: number; html?: string }> {
    let url = start;
    let body: URLSearchParams | undefined;
    let origin: string | undefined;
    for (let step = 0; step < 30; step++) {
      const res = await this.request(
        url,
        body ? { method: 'POST', body, ...(origin ? { headers: { origin } } : {}) } : {},
      );
      body = undefined;
      origin = undefined;
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url);
        if (stop(url)) return { url };
        continue;
      }
      // A page that moves on by itself (meta refresh), as a browser does.
      const refresh = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(res.body)?.[1];
      if (res.status === 200 && refresh) {
        url = new URL(
          refresh.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))),
          url,
        );
        if (stop(url)) return { url };
        continue;
      }
      // The gateway's own consent page: press Allow or Deny, as the person would.
      if (options.consent && res.status === 200 && /name="decision"/.test(res.body)) {
        this.consentPages.push(res.body);
        body = consentForm(res.body, options.consent);
        origin = url.origin;
        url = new URL('/.pomerium/mcp/authorize', url);
        continue;
      }
      const action = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(res.body)?.[1];
      const prompt = /name="prompt" value="([a-z]+)"/.exec(res.body)?.[1];
      if (!action || !prompt) return { url, status: res.status, html: res.body };
      this.prompts.push(prompt);
      body = new URLSearchParams({ prompt });
      if (prompt === 'login') {
        body.set('login', login);
        body.set('password', 'any password');
      }
      url = new URL(htmlUnescape(action), url);
    }
    throw new Error('too many steps');
  }

  /**
   * Walks an authorization request until the authorization server sends the browser to
   * `redirectUri`, and returns that URL (with `code`, `state`, `iss`).
   */
  async authorize(
    authorizationUrl: URL,
    redirectUri: string,
    login: string,
    options: { consent?: 'allow' | 'deny' } = {},
  ): Promise<URL> {
    const end = await this.follow(
      authorizationUrl,
      login,
      (url) => url.href.startsWith(`${redirectUri}?`),
      options,
    );
    if (end.status !== undefined) {
      throw new Error(`unexpected answer ${end.status} at ${end.url.pathname}: ${end.html?.slice(0, 300)}`);
    }
    return end.url;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
