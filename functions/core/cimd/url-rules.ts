/**
 * Rules for a client ID URL (draft-ietf-oauth-client-id-metadata-document-02 §3; DESIGN.md "CIMD
 * rules"). The raw string is checked, not only `new URL(...)`: the WHATWG parser quietly repairs
 * exactly the forms the draft forbids (`https:h/x`, `https:///x`, `/a/../b`, `https://@h/x`), and the
 * authorization server compares the `client_id` in the document with the URL as an exact string.
 */

/** One problem found by a validator. `rule` is a stable code that callers and tests dispatch on. */
export interface Finding {
  rule: string;
  /** For people: names the offending value. */
  message: string;
  /** The offending value, when there is one. */
  value?: string;
}

/** An expected validation failure is a result, never an exception. */
export type ValidationResult =
  | { ok: true; warnings: Finding[] }
  | { ok: false; errors: Finding[]; warnings: Finding[] };

/** A rule code with what it asks for; the CLI's `--verbose` and the docs list these. */
export interface RuleDescription {
  readonly rule: string;
  readonly description: string;
  readonly severity: 'error' | 'warning';
}

/** Every rule {@link validateClientIdUrl} applies, in the order it applies them. */
export const URL_RULES: readonly RuleDescription[] = [
  {
    rule: 'url.malformed',
    description: 'an absolute URL of the form https://host[:port]/path with valid percent-escapes',
    severity: 'error',
  },
  {
    rule: 'url.forbidden_character',
    description: 'no whitespace, control, non-ASCII or RFC 3986-excluded characters such as \\',
    severity: 'error',
  },
  { rule: 'url.https_only', description: 'the scheme is https', severity: 'error' },
  { rule: 'url.host_required', description: 'a host is present (not https:///x)', severity: 'error' },
  {
    rule: 'url.no_userinfo',
    description: 'no user name or password, not even an empty one (https://@h/x)',
    severity: 'error',
  },
  { rule: 'url.path_required', description: 'a path other than "/" is present', severity: 'error' },
  {
    rule: 'url.dot_segment',
    description: 'no "." or ".." path segments, also percent-encoded (%2e, .%2e)',
    severity: 'error',
  },
  { rule: 'url.fragment', description: 'no fragment, not even a bare "#"', severity: 'error' },
  {
    rule: 'url.query',
    description: 'no query string (a warning: the draft says SHOULD NOT)',
    severity: 'warning',
  },
];

const MAX_SHOWN = 200;

/** `JSON.stringify`, cut short so a hostile value cannot flood a terminal or a log line. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

/**
 * Characters that may not appear in a client ID URL: anything outside printable ASCII (whitespace,
 * controls, non-ASCII) and the printable characters RFC 3986 excludes from URIs. A URL containing them
 * is not one exact string: parsers percent-encode or strip them differently.
 */
const FORBIDDEN = /[^\x21-\x7e]|[\\<>"{}|^`]/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/**
 * Checks a client ID URL against every rule in {@link URL_RULES}. Returns all the problems found,
 * not only the first, so a person can fix them in one go.
 */
export function validateClientIdUrl(raw: unknown): ValidationResult {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  const fail = (rule: string, message: string) => errors.push({ rule, message, value: String(raw) });
  const done = (): ValidationResult =>
    errors.length ? { ok: false, errors, warnings } : { ok: true, warnings };

  if (typeof raw !== 'string' || raw === '') {
    errors.push({
      rule: 'url.malformed',
      message: `client ID must be a non-empty URL string, got ${show(raw)}`,
    });
    return { ok: false, errors, warnings };
  }
  const bad = FORBIDDEN.exec(raw);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    fail(
      'url.forbidden_character',
      `client ID URL contains the character U+${code} at offset ${bad.index}, in ${show(raw)}`,
    );
  }
  const scheme = SCHEME.exec(raw);
  if (!scheme) {
    fail('url.malformed', `client ID must be an absolute https URL, got ${show(raw)}`);
    return done();
  }
  if (scheme[1]!.toLowerCase() !== 'https') {
    fail('url.https_only', `client ID URL must use https, got scheme "${scheme[1]}" in ${show(raw)}`);
    return done();
  }
  const rest = raw.slice(scheme[0].length);
  if (!rest.startsWith('//')) {
    fail('url.malformed', `client ID URL must start with "https://" followed by a host, got ${show(raw)}`);
    return done();
  }

  const afterSlashes = rest.slice(2);
  const authorityEnd = afterSlashes.search(/[/?#]/);
  const authority = authorityEnd === -1 ? afterSlashes : afterSlashes.slice(0, authorityEnd);
  const remainder = authorityEnd === -1 ? '' : afterSlashes.slice(authorityEnd);

  if (authority.includes('@')) {
    fail('url.no_userinfo', `client ID URL must not contain user info ("…@"), got ${show(raw)}`);
  }
  const hostAndPort = authority.slice(authority.lastIndexOf('@') + 1);
  const host = hostAndPort.startsWith('[')
    ? hostAndPort.slice(0, hostAndPort.indexOf(']') + 1)
    : hostAndPort.split(':')[0]!;
  if (host === '') fail('url.host_required', `client ID URL has no host, got ${show(raw)}`);

  const pathEnd = remainder.search(/[?#]/);
  const path = pathEnd === -1 ? remainder : remainder.slice(0, pathEnd);
  if (path === '' || path === '/') {
    fail('url.path_required', `client ID URL must have a path other than "/", got ${show(raw)}`);
  }
  const dotSegment = path.split('/').find((segment) => {
    const decoded = segment.replace(/%2e/gi, '.');
    return decoded === '.' || decoded === '..';
  });
  if (dotSegment !== undefined) {
    fail(
      'url.dot_segment',
      `client ID URL must not contain the path segment "${dotSegment}", in ${show(raw)}`,
    );
  }

  const hash = remainder.indexOf('#');
  if (hash !== -1) fail('url.fragment', `client ID URL must not have a fragment ("#"), got ${show(raw)}`);
  const query = remainder.indexOf('?');
  if (query !== -1 && (hash === -1 || query < hash)) {
    warnings.push({
      rule: 'url.query',
      message: `client ID URL should not have a query string, got ${show(raw)}`,
      value: raw,
    });
  }

  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) {
    fail('url.malformed', `client ID URL has a "%" that does not start a percent-escape, in ${show(raw)}`);
  } else if (errors.length === 0) {
    try {
      const url = new URL(raw);
      if (url.protocol !== 'https:' || url.hostname === '')
        throw new TypeError('not an https URL with a host');
    } catch {
      fail('url.malformed', `client ID URL does not parse as an https URL: ${show(raw)}`);
    }
  }
  return done();
}
