import { createHash, randomBytes } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';

/** A fetch that trusts the development CA, for SDK clients and JWKS lookups in tests. */
export function caFetch(agent: Agent): typeof fetch {
  return ((url: string | URL | Request, init?: RequestInit) =>
    undiciFetch(url as string, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function htmlUnescape(value: string): string {
  return value
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}

/**
 * Just enough of a browser to walk oidc-provider's development login and consent forms: a cookie
 * jar keyed by host (browsers do not separate cookies by port, and neither does this), manual
 * redirects, and HTML forms filled by their hidden `prompt` field.
 */
export class TestBrowser {
  readonly agent: Agent;
  private readonly jar = new Map<string, Map<string, string>>();
  /** The `prompt` of every form submitted, in order (`login`, `consent`). */
  readonly prompts: string[] = [];

  constructor(ca: string) {
    this.agent = new Agent({ connect: { ca } });
  }

  async request(url: URL, init: { method?: string; body?: URLSearchParams; accept?: string } = {}) {
    const cookies = this.jar.get(url.hostname) ?? new Map<string, string>();
    const headers: Record<string, string> = { accept: init.accept ?? 'text/html' };
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
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
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    this.jar.set(url.hostname, cookies);
    return res;
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
  ): Promise<{ url: URL; status?: number; html?: string }> {
    let url = start;
    let body: URLSearchParams | undefined;
    for (let step = 0; step < 30; step++) {
      const res = await this.request(url, body ? { method: 'POST', body } : {});
      body = undefined;
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        url = new URL(location, url);
        if (stop(url)) return { url };
        continue;
      }
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html)?.[1];
      const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
      if (!action || !prompt) return { url, status: res.status, html };
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
  async authorize(authorizationUrl: URL, redirectUri: string, login: string): Promise<URL> {
    const end = await this.follow(authorizationUrl, login, (url) => url.href.startsWith(`${redirectUri}?`));
    if (end.status !== undefined) {
      throw new Error(`unexpected answer ${end.status} at ${end.url.pathname}: ${end.html?.slice(0, 300)}`);
    }
    return end.url;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
