import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import {
  PLACEHOLDER_CLIENT_ID,
  validateClientIdUrl,
  validateClientMetadata,
} from '../functions/core/cimd/validate.ts';
import { parseCommand, usageError } from './args.ts';
import type { Io } from './io.ts';

export const USAGE = `usage: mcp-edge cimd create --name NAME --redirect-uri URI [--redirect-uri URI ...] [options]

Writes a Client ID Metadata Document (JSON) for an OAuth client to stdout, or to -o FILE.

options:
  --name NAME                      client_name shown on consent screens (required)
  --redirect-uri URI               a redirect URI: https, or http on 127.0.0.1, [::1] or localhost
                                   (required; repeat for more)
  --client-id URL                  the https URL the document will be served from; without it a
                                   placeholder is written that you must replace
  --client-uri URL                 client_uri (https)
  --logo-uri URL                   logo_uri (https)
  --tos-uri URL                    tos_uri (https)
  --policy-uri URL                 policy_uri (https)
  --jwks-uri URL                   jwks_uri (https), for private_key_jwt
  --contact EMAIL                  a contact address (repeat for more)
  --scope "S1 S2"                  scope
  --token-endpoint-auth-method M   none (default) or private_key_jwt
  --grant-type G                   a grant type (repeat; default authorization_code and refresh_token)
  -o, --output FILE                write to FILE instead of stdout
  -h, --help                       show this help

exit codes: 0 written, 1 the file could not be written, 2 usage or invalid input`;

const OPTIONS = {
  name: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'client-id': { type: 'string' },
  'client-uri': { type: 'string' },
  'logo-uri': { type: 'string' },
  'tos-uri': { type: 'string' },
  'policy-uri': { type: 'string' },
  'jwks-uri': { type: 'string' },
  contact: { type: 'string', multiple: true },
  scope: { type: 'string' },
  'token-endpoint-auth-method': { type: 'string' },
  'grant-type': { type: 'string', multiple: true },
  output: { type: 'string', short: 'o' },
} as const;

const URI_OPTIONS = [
  ['client-uri', 'client_uri'],
  ['logo-uri', 'logo_uri'],
  ['tos-uri', 'tos_uri'],
  ['policy-uri', 'policy_uri'],
  ['jwks-uri', 'jwks_uri'],
] as const;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;
const TOKEN = /^[\x21-\x7E]+$/;
const email = z.email();

/** `mcp-edge cimd create`: builds a document from flags, checks it with the validator, writes it. */
export async function run(args: string[], io: Io): Promise<number> {
  const fail = (message: string) => usageError(io, 'cimd create', message, USAGE);
  const parsed = parseCommand(io, { name: 'cimd create', usage: USAGE, options: OPTIONS }, args);
  if (!parsed.ok) return parsed.exitCode;
  const { values, positionals } = parsed;
  if (positionals.length) return fail(`unexpected argument ${JSON.stringify(positionals[0])}`);

  const name = values.name?.trim();
  if (!name) return fail('--name is required (the client_name people see on consent screens)');
  const redirectUris = values['redirect-uri'] ?? [];
  if (!redirectUris.length) return fail('--redirect-uri is required (give it once per redirect URI)');
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem) return fail(`--redirect-uri ${JSON.stringify(uri)}: ${problem}`);
  }

  const warnings: string[] = [];
  const clientId = values['client-id'];
  if (clientId !== undefined) {
    const checked = validateClientIdUrl(clientId);
    if (!checked.ok) {
      return fail(
        `--client-id ${JSON.stringify(clientId)}: ${checked.errors.map((e) => `${e.message} [${e.rule}]`).join('; ')}`,
      );
    }
    warnings.push(...checked.warnings.map((w) => `${w.message} [${w.rule}]`));
  } else {
    warnings.push(
      `no --client-id given: client_id is the placeholder ${PLACEHOLDER_CLIENT_ID}; replace it with the exact https URL the document will be served from`,
    );
  }

  const uris: Record<string, string> = {};
  for (const [option, field] of URI_OPTIONS) {
    const value = values[option];
    if (value === undefined) continue;
    if (!isHttpsUrl(value))
      return fail(`--${option} must be an absolute https URL, got ${JSON.stringify(value)}`);
    uris[field] = value;
  }
  const contacts = values.contact ?? [];
  for (const contact of contacts) {
    if (!email.safeParse(contact).success)
      return fail(`--contact must be an email address, got ${JSON.stringify(contact)}`);
  }
  const method = values['token-endpoint-auth-method'] ?? 'none';
  if (method !== 'none' && method !== 'private_key_jwt') {
    return fail(
      `--token-endpoint-auth-method must be "none" or "private_key_jwt" (a client ID document cannot carry a shared secret), got ${JSON.stringify(method)}`,
    );
  }
  if (values.scope !== undefined && !SCOPE.test(values.scope)) {
    return fail(`--scope must be space-separated OAuth scope tokens, got ${JSON.stringify(values.scope)}`);
  }
  const grantTypes = values['grant-type'] ?? ['authorization_code', 'refresh_token'];
  for (const grant of grantTypes) {
    if (!TOKEN.test(grant))
      return fail(`--grant-type must be a grant type name, got ${JSON.stringify(grant)}`);
  }

  // Field order follows the gateway's generated documents (functions/core/cimd/generate.ts).
  const doc: Record<string, unknown> = {
    client_id: clientId ?? PLACEHOLDER_CLIENT_ID,
    client_name: name,
    ...(uris.client_uri ? { client_uri: uris.client_uri } : {}),
    redirect_uris: redirectUris,
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: method,
    ...(values.scope !== undefined ? { scope: values.scope } : {}),
    ...(uris.logo_uri ? { logo_uri: uris.logo_uri } : {}),
    ...(contacts.length ? { contacts } : {}),
    ...(uris.tos_uri ? { tos_uri: uris.tos_uri } : {}),
    ...(uris.policy_uri ? { policy_uri: uris.policy_uri } : {}),
    ...(uris.jwks_uri ? { jwks_uri: uris.jwks_uri } : {}),
  };

  // The validator has the last word, so create never writes what validate would refuse.
  const result = validateClientMetadata(doc);
  if (!result.ok) return fail(result.errors.map((e) => `${e.message} [${e.rule}]`).join('; '));
  for (const warning of result.warnings) {
    if (warning.rule !== 'doc.client_id_placeholder') warnings.push(`${warning.message} [${warning.rule}]`);
  }

  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (values.output) {
    try {
      await writeFile(values.output, text);
    } catch (error) {
      io.err(`mcp-edge cimd create: could not write ${values.output}: ${(error as Error).message}\n`);
      return 1;
    }
    io.err(`wrote ${values.output}\n`);
  } else {
    io.out(text);
  }
  for (const warning of warnings) io.err(`warning: ${warning}\n`);
  return 0;
}

function redirectUriProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (/[^\x21-\x7e]/.test(value)) return 'must not contain whitespace, control or non-ASCII characters';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    return 'must be https, or http on 127.0.0.1, [::1] or localhost';
  }
  if (value.includes('#')) return 'must not have a fragment';
  return undefined;
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:' && !/[^\x21-\x7e]/.test(value);
  } catch {
    return false;
  }
}
