import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { parseCommand, usageError } from './args.ts';
import { type LoopbackReceiver, startLoopbackReceiver } from './client/loopback.ts';
import { defaultTokenFile, TokenStore } from './client/token-store.ts';
import type { Io } from './io.ts';

export const USAGE = `usage: mcp-edge client <MCP URL> [REQUEST] [--ca FILE] [--token-file FILE] [--port N] [--no-open] [--json]

An MCP client for people: it authorizes at the MCP server's authorization server through your
browser (a loopback redirect on 127.0.0.1), keeps its registration and tokens in a file only you
can read, and runs one request.

requests (default tools/list):
  tools/list | prompts/list | resources/list | ping
  tools/call NAME [JSON-ARGUMENTS]

options:
  --ca FILE         also trust this CA certificate (PEM), e.g. the local gateway's .local/tls/ca.pem
  --token-file FILE where registrations and tokens are kept (default ~/.config/mcp-edge/client.json)
  --port N          the loopback port for the browser's answer (default: any free port)
  --no-open         print the authorization URL without trying to open a browser
  --json            print the result as JSON
  -h, --help        show this help

exit codes: 0 done, 1 the server or the authorization refused, 2 usage error`;

const OPTIONS = {
  ca: { type: 'string' },
  'token-file': { type: 'string' },
  port: { type: 'string' },
  'no-open': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Request =
  | { kind: 'list'; method: 'tools/list' | 'prompts/list' | 'resources/list' }
  | { kind: 'ping' }
  | { kind: 'call'; name: string; args: Record<string, unknown> };

function parseRequest(words: string[]): Request | string {
  const [method = 'tools/list', ...rest] = words;
  if (method === 'tools/list' || method === 'prompts/list' || method === 'resources/list') {
    return rest.length ? `${method} takes no arguments` : { kind: 'list', method };
  }
  if (method === 'ping') return rest.length ? 'ping takes no arguments' : { kind: 'ping' };
  if (method === 'tools/call') {
    const [name, json, ...extra] = rest;
    if (!name || extra.length) return 'tools/call takes a tool name and optional JSON arguments';
    try {
      const args = json === undefined ? {} : (JSON.parse(json) as unknown);
      if (!args || typeof args !== 'object' || Array.isArray(args))
        return 'the arguments must be a JSON object';
      return { kind: 'call', name, args: args as Record<string, unknown> };
    } catch {
      return 'the arguments are not valid JSON';
    }
  }
  return `unknown request ${JSON.stringify(method)}`;
}

/** Opens a URL in the person's browser when a desktop is likely; silently does nothing otherwise. */
function openBrowser(url: string): void {
  const command =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // no opener: the printed URL is enough
  }
}

/** The SDK's OAuth client state, persisted per MCP server URL in the token file. */
class StoredProvider implements OAuthClientProvider {
  authorizationUrl?: URL;
  private verifier?: string;
  readonly expectedState = randomBytes(16).toString('base64url');

  constructor(
    private readonly store: TokenStore,
    private readonly server: string,
    private readonly receiver: LoopbackReceiver,
    private entry: { clientInformation?: Record<string, unknown>; tokens?: Record<string, unknown> },
  ) {}

  get redirectUrl(): string {
    return this.receiver.redirectUri;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'mcp-edge client',
      redirect_uris: [this.receiver.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state(): string {
    return this.expectedState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.entry.clientInformation as OAuthClientInformationMixed | undefined;
  }

  async saveClientInformation(info: OAuthClientInformationMixed): Promise<void> {
    this.entry = { ...this.entry, clientInformation: info as unknown as Record<string, unknown> };
    await this.store.update(this.server, (e) => ({ ...e, clientInformation: this.entry.clientInformation }));
  }

  tokens(): OAuthTokens | undefined {
    return this.entry.tokens as OAuthTokens | undefined;
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    this.entry = { ...this.entry, tokens: tokens as unknown as Record<string, unknown> };
    await this.store.update(this.server, (e) => ({ ...e, tokens: this.entry.tokens }));
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }

  async invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier'): Promise<void> {
    if (scope === 'verifier') return;
    const keep = scope === 'tokens' ? { clientInformation: this.entry.clientInformation } : {};
    this.entry = keep;
    await this.store.update(this.server, () => keep);
  }
}

/** `mcp-edge client`: authorize through the browser if needed, then run one MCP request. */
export async function run(args: string[], io: Io): Promise<number> {
  const parsed = parseCommand(io, { name: 'client', usage: USAGE, options: OPTIONS }, args);
  if (!parsed.ok) return parsed.exitCode;
  const { values, positionals } = parsed;
  const [target, ...words] = positionals;
  if (!target) return usageError(io, 'client', 'the MCP server URL is required', USAGE);
  let server: URL;
  try {
    server = new URL(target);
    if (
      server.protocol !== 'https:' &&
      !(server.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(server.hostname))
    ) {
      return usageError(io, 'client', 'the MCP server URL must be https (or http on loopback)', USAGE);
    }
  } catch {
    return usageError(io, 'client', `not a URL: ${JSON.stringify(target)}`, USAGE);
  }
  const request = parseRequest(words);
  if (typeof request === 'string') return usageError(io, 'client', request, USAGE);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return usageError(io, 'client', '--port must be 0-65535', USAGE);

  let fetchImpl: typeof fetch | undefined;
  if (values.ca) {
    let ca: string;
    try {
      ca = await readFile(values.ca, 'utf8');
    } catch {
      io.err(`mcp-edge client: cannot read ${values.ca}\n`);
      return 1;
    }
    const agent = new Agent({ connect: { ca: [...rootCertificates, ca] } });
    fetchImpl = ((url: string | URL | globalThis.Request, init?: RequestInit) =>
      undiciFetch(url as string, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  }

  const store = new TokenStore(values['token-file'] ?? defaultTokenFile());
  const receiver = await startLoopbackReceiver(port);
  const provider = new StoredProvider(store, server.href, receiver, await store.read(server.href));
  const connect = async () => {
    const client = new Client({ name: 'mcp-edge-client', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(server, {
      authProvider: provider,
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
    await client.connect(transport);
    return { client, transport };
  };

  try {
    let session: Awaited<ReturnType<typeof connect>>;
    try {
      session = await connect();
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || !provider.authorizationUrl) throw error;
      const url = provider.authorizationUrl.href;
      io.err(
        `Open this URL in your browser to sign in and allow access:\n\n  ${url}\n\nWaiting for the browser on ${receiver.redirectUri} …\n`,
      );
      if (!values['no-open'] && !process.env.CI) openBrowser(url);
      const answer = await receiver.callback;
      if (answer.get('error')) {
        io.err(
          `mcp-edge client: the authorization server answered ${answer.get('error')}: ${answer.get('error_description') ?? ''}\n`,
        );
        return 1;
      }
      if (answer.get('state') !== provider.expectedState) {
        io.err('mcp-edge client: the answer does not belong to this authorization (state mismatch)\n');
        return 1;
      }
      const transport = new StreamableHTTPClientTransport(server, {
        authProvider: provider,
        ...(fetchImpl ? { fetch: fetchImpl } : {}),
      });
      await transport.finishAuth(answer.get('code') ?? '');
      session = await connect();
    }
    const { client, transport } = session;
    try {
      const result =
        request.kind === 'ping'
          ? await client.ping()
          : request.kind === 'call'
            ? await client.callTool({ name: request.name, arguments: request.args })
            : request.method === 'tools/list'
              ? await client.listTools()
              : request.method === 'prompts/list'
                ? await client.listPrompts()
                : await client.listResources();
      io.out(values.json ? `${JSON.stringify(result, null, 2)}\n` : describe(request, result));
    } finally {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    }
    return 0;
  } catch (error) {
    io.err(`mcp-edge client: ${(error as Error).message}\n`);
    return 1;
  } finally {
    receiver.close();
  }
}

/** A readable summary: tool names and descriptions, or a call's text content. */
function describe(request: Request, result: unknown): string {
  const r = result as {
    tools?: { name: string; description?: string }[];
    prompts?: { name: string; description?: string }[];
    resources?: { uri: string; name?: string }[];
    content?: { type: string; text?: string }[];
    isError?: boolean;
  };
  if (r.tools)
    return `${r.tools.map((t) => `${t.name}${t.description ? `  ${t.description}` : ''}`).join('\n')}\n`;
  if (r.prompts)
    return `${r.prompts.map((p) => `${p.name}${p.description ? `  ${p.description}` : ''}`).join('\n')}\n`;
  if (r.resources) return `${r.resources.map((x) => `${x.uri}${x.name ? `  ${x.name}` : ''}`).join('\n')}\n`;
  if (r.content) {
    const text = r.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
    return `${r.isError ? 'error: ' : ''}${text}\n`;
  }
  return request.kind === 'ping' ? 'pong\n' : `${JSON.stringify(result)}\n`;
}
