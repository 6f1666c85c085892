import { z } from 'zod';
import { type Finding, type RuleDescription, show } from './url-rules.ts';

/**
 * Rules for a Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document-02 §4, the
 * MCP authorization text, RFC 7591 §2 for field meanings; DESIGN.md "CIMD rules"). Extra fields are
 * allowed, as RFC 7591 requires.
 */

/** At most this many bytes are read of a document (DESIGN.md: 5 KiB). */
export const MAX_DOCUMENT_BYTES = 5120;

/**
 * The `client_id` that `mcp-edge cimd create` writes when no `--client-id` is given. It is a valid
 * URL so the rest of the document can be checked, and {@link validateClientMetadata} warns about it.
 */
export const PLACEHOLDER_CLIENT_ID =
  'https://YOUR-DOMAIN.example/REPLACE-WITH-THE-URL-WHERE-THIS-DOCUMENT-IS-HOSTED.json';

/** Every rule the document validators apply. */
export const DOCUMENT_RULES: readonly RuleDescription[] = [
  { rule: 'doc.too_large', description: `at most ${MAX_DOCUMENT_BYTES} bytes`, severity: 'error' },
  { rule: 'doc.invalid_json', description: 'UTF-8 JSON', severity: 'error' },
  { rule: 'doc.not_object', description: 'a JSON object', severity: 'error' },
  { rule: 'doc.client_id_required', description: 'client_id is a string', severity: 'error' },
  {
    rule: 'doc.client_id_mismatch',
    description: 'client_id equals the document URL, compared as exact strings',
    severity: 'error',
  },
  {
    rule: 'doc.client_id_placeholder',
    description: 'client_id is not the cimd create placeholder',
    severity: 'warning',
  },
  {
    rule: 'doc.client_name_required',
    description: 'client_name is a non-empty string (MCP)',
    severity: 'error',
  },
  {
    rule: 'doc.redirect_uris_required',
    description: 'redirect_uris is a non-empty array of strings (MCP)',
    severity: 'error',
  },
  {
    rule: 'doc.redirect_uri_malformed',
    description: 'each redirect URI is an absolute URL',
    severity: 'error',
  },
  {
    rule: 'doc.redirect_uri_scheme',
    description: 'each redirect URI is https, or http on a loopback host (127.0.0.1, [::1], localhost)',
    severity: 'error',
  },
  {
    rule: 'doc.redirect_uri_fragment',
    description: 'no redirect URI has a fragment (RFC 6749 §3.1.2)',
    severity: 'error',
  },
  {
    rule: 'doc.client_secret_forbidden',
    description: 'no client_secret or client_secret_expires_at',
    severity: 'error',
  },
  {
    rule: 'doc.auth_method_shared_secret',
    description: 'token_endpoint_auth_method is not a shared-secret method (client_secret_*)',
    severity: 'error',
  },
  {
    rule: 'doc.auth_method_unsupported',
    description: 'token_endpoint_auth_method is "none" or "private_key_jwt" when present',
    severity: 'error',
  },
  {
    rule: 'doc.jwks_private_key',
    description: 'no private key members (d p q dp dq qi oth k) in jwks',
    severity: 'error',
  },
  { rule: 'doc.jwks_conflict', description: 'not both jwks and jwks_uri (RFC 7591 §2)', severity: 'error' },
  {
    rule: 'doc.private_key_jwt_without_keys',
    description: 'private_key_jwt comes with jwks or jwks_uri',
    severity: 'warning',
  },
  {
    rule: 'doc.uri_malformed',
    description: 'client_uri, logo_uri, tos_uri, policy_uri, jwks_uri are absolute URLs',
    severity: 'error',
  },
  {
    rule: 'doc.uri_not_https',
    description: 'client_uri, logo_uri, tos_uri, policy_uri, jwks_uri are https',
    severity: 'error',
  },
  {
    rule: 'doc.field_type',
    description: 'other registered fields have their RFC 7591 types',
    severity: 'error',
  },
];

const stringList = z.array(z.string());
const nonEmpty = z.string().refine((s) => s.trim() !== '');

/**
 * The shape of a client's metadata document. Loose: unknown members are kept (RFC 7591 §2 lets
 * clients send extensions), and the rule checks below add what a schema cannot say.
 */
export const clientMetadataSchema = z.looseObject({
  client_id: z.string(),
  client_name: nonEmpty,
  redirect_uris: stringList.min(1),
  client_uri: z.string().optional(),
  logo_uri: z.string().optional(),
  tos_uri: z.string().optional(),
  policy_uri: z.string().optional(),
  jwks_uri: z.string().optional(),
  jwks: z.looseObject({ keys: z.array(z.looseObject({})) }).optional(),
  grant_types: stringList.optional(),
  response_types: stringList.optional(),
  token_endpoint_auth_method: z.string().optional(),
  scope: z.string().optional(),
  contacts: stringList.optional(),
  software_id: z.string().optional(),
  software_version: z.string().optional(),
});

/** A client's metadata document after validation (extra members kept). */
export type ClientMetadata = z.output<typeof clientMetadataSchema>;

export type ClientMetadataResult =
  | { ok: true; document: ClientMetadata; warnings: Finding[] }
  | { ok: false; errors: Finding[]; warnings: Finding[] };

/** Where a shape problem on a top-level member is reported. */
const RULE_FOR_FIELD: Record<string, string> = {
  client_id: 'doc.client_id_required',
  client_name: 'doc.client_name_required',
  redirect_uris: 'doc.redirect_uris_required',
};

const URI_FIELDS = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'jwks_uri'] as const;
const SHARED_SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);
const ALLOWED_AUTH_METHODS = new Set(['none', 'private_key_jwt']);
const PRIVATE_KEY_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Checks a parsed document. With `expectedClientId` (the URL it was fetched from) `client_id` must
 * equal it exactly: the draft's "simple string comparison" (RFC 3986 §6.2.1), so `https://h/x` and
 * `https://h:443/x` differ. The URL rules on `client_id` itself are {@link validateClientIdUrl}'s job.
 */
export function validateClientMetadata(doc: unknown, expectedClientId?: string): ClientMetadataResult {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    const kind = doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc;
    errors.push({ rule: 'doc.not_object', message: `document must be a JSON object, got ${kind}` });
    return { ok: false, errors, warnings };
  }
  const record = doc as Record<string, unknown>;

  const shape = clientMetadataSchema.safeParse(record);
  if (!shape.success) {
    for (const issue of shape.error.issues) {
      const field = String(issue.path[0] ?? '');
      const value = field in record ? record[field] : undefined;
      const rule =
        field === 'redirect_uris' && issue.path.length > 1
          ? 'doc.redirect_uri_malformed'
          : (RULE_FOR_FIELD[field] ?? 'doc.field_type');
      const where = issue.path.map(String).join('.');
      const message =
        value === undefined
          ? `${where} is required`
          : `${where} has the wrong type or is empty (${issue.message.toLowerCase()}), got ${show(value)}`;
      errors.push({ rule, message, ...(value === undefined ? {} : { value: show(value) }) });
    }
  }

  checkClientId(record, expectedClientId, errors, warnings);
  checkSecrets(record, errors, warnings);
  checkUris(record, errors);
  checkRedirectUris(record, errors);

  if (errors.length || !shape.success) return { ok: false, errors, warnings };
  return { ok: true, document: shape.data, warnings };
}

/**
 * Checks a document as fetched or read: the size limit, UTF-8 JSON, then
 * {@link validateClientMetadata}.
 */
export function validateClientMetadataBytes(
  body: Uint8Array | string,
  expectedClientId?: string,
): ClientMetadataResult {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  if (bytes.byteLength > MAX_DOCUMENT_BYTES) {
    return {
      ok: false,
      errors: [
        {
          rule: 'doc.too_large',
          message: `document is ${bytes.byteLength} bytes; at most ${MAX_DOCUMENT_BYTES} are accepted`,
          value: String(bytes.byteLength),
        },
      ],
      warnings: [],
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'not valid UTF-8';
    return {
      ok: false,
      errors: [{ rule: 'doc.invalid_json', message: `document is not valid JSON: ${reason}` }],
      warnings: [],
    };
  }
  return validateClientMetadata(parsed, expectedClientId);
}

function checkClientId(
  doc: Record<string, unknown>,
  expected: string | undefined,
  errors: Finding[],
  warnings: Finding[],
): void {
  const id = doc.client_id;
  if (typeof id !== 'string') return;
  if (expected !== undefined && id !== expected) {
    errors.push({
      rule: 'doc.client_id_mismatch',
      message: `client_id ${show(id)} is not exactly the document URL ${show(expected)}`,
      value: id,
    });
  }
  if (id === PLACEHOLDER_CLIENT_ID) {
    warnings.push({
      rule: 'doc.client_id_placeholder',
      message: `client_id is still the placeholder ${show(id)}; set it to the URL where the document is hosted`,
      value: id,
    });
  }
}

function checkSecrets(doc: Record<string, unknown>, errors: Finding[], warnings: Finding[]): void {
  for (const member of ['client_secret', 'client_secret_expires_at']) {
    if (member in doc) {
      // The value of a secret is never echoed.
      errors.push({
        rule: 'doc.client_secret_forbidden',
        message: `${member} must not appear in a client ID metadata document (it is public)`,
        value: member,
      });
    }
  }
  const method = doc.token_endpoint_auth_method;
  if (typeof method === 'string') {
    if (SHARED_SECRET_METHODS.has(method)) {
      errors.push({
        rule: 'doc.auth_method_shared_secret',
        message: `token_endpoint_auth_method ${show(method)} needs a shared secret; use "none" or "private_key_jwt"`,
        value: method,
      });
    } else if (!ALLOWED_AUTH_METHODS.has(method)) {
      errors.push({
        rule: 'doc.auth_method_unsupported',
        message: `token_endpoint_auth_method ${show(method)} is not accepted; use "none" or "private_key_jwt"`,
        value: method,
      });
    } else if (method === 'private_key_jwt' && !('jwks' in doc) && !('jwks_uri' in doc)) {
      warnings.push({
        rule: 'doc.private_key_jwt_without_keys',
        message:
          'token_endpoint_auth_method "private_key_jwt" without jwks or jwks_uri: no key can be verified',
        value: method,
      });
    }
  }
  if ('jwks' in doc && 'jwks_uri' in doc) {
    errors.push({ rule: 'doc.jwks_conflict', message: 'jwks and jwks_uri must not both be present' });
  }
  const keys = (doc.jwks as { keys?: unknown } | undefined)?.keys;
  if (Array.isArray(keys)) {
    keys.forEach((key, index) => {
      if (typeof key !== 'object' || key === null) return;
      const found = PRIVATE_KEY_MEMBERS.filter((member) => member in key);
      if (found.length) {
        const kid = (key as { kid?: unknown }).kid;
        errors.push({
          rule: 'doc.jwks_private_key',
          message: `jwks.keys[${index}]${typeof kid === 'string' ? ` (kid ${show(kid)})` : ''} contains private key members ${found.join(', ')}; publish only public keys`,
          value: `jwks.keys[${index}]`,
        });
      }
    });
  }
}

function checkUris(doc: Record<string, unknown>, errors: Finding[]): void {
  for (const field of URI_FIELDS) {
    const value = doc[field];
    if (typeof value !== 'string') continue;
    const url = parseUrl(value);
    if (!url) {
      errors.push({
        rule: 'doc.uri_malformed',
        message: `${field} must be an absolute URL, got ${show(value)}`,
        value,
      });
    } else if (url.protocol !== 'https:') {
      errors.push({
        rule: 'doc.uri_not_https',
        message: `${field} must be an https URL, got ${show(value)}`,
        value,
      });
    }
  }
}

function checkRedirectUris(doc: Record<string, unknown>, errors: Finding[]): void {
  const uris = doc.redirect_uris;
  if (!Array.isArray(uris)) return;
  for (const value of uris) {
    if (typeof value !== 'string') continue;
    const url = parseUrl(value);
    if (!url) {
      errors.push({
        rule: 'doc.redirect_uri_malformed',
        message: `redirect URI must be an absolute URL, got ${show(value)}`,
        value,
      });
      continue;
    }
    const loopbackHttp = url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
    if (url.protocol !== 'https:' && !loopbackHttp) {
      errors.push({
        rule: 'doc.redirect_uri_scheme',
        message: `redirect URI must be https, or http on 127.0.0.1, [::1] or localhost, got ${show(value)}`,
        value,
      });
    }
    if (value.includes('#')) {
      errors.push({
        rule: 'doc.redirect_uri_fragment',
        message: `redirect URI must not have a fragment, got ${show(value)}`,
        value,
      });
    }
  }
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
