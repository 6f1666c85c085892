import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  type CachingHeaders,
  DOCUMENT_RULES,
  FETCH_RULES,
  type Finding,
  fetchAndValidateClientMetadata,
  type RuleDescription,
  URL_RULES,
  validateClientIdUrl,
  validateClientMetadataBytes,
} from '../functions/core/cimd/validate.ts';
import { parseCommand, usageError } from './args.ts';
import type { Io } from './io.ts';

export const USAGE = `usage: mcp-edge cimd validate <FILE|URL> [-v|--verbose] [--json] [--allow-private-network] [--ca FILE]

Checks a Client ID Metadata Document against the CIMD rules.
  FILE  the document rules, and the client ID URL rules on its client_id
  URL   the client ID URL rules, then a safe fetch (https only, no redirects, 200 only, at most
        5 KiB, 10 s, public addresses only), then the document rules with client_id equal to URL;
        prints the caching headers the server sent and the cache lifetime they give

options:
  -v, --verbose             also print every check that passed
  --json                    print one JSON object instead of text
  --allow-private-network   let URL point at loopback or private addresses (local development)
  --ca FILE                 also trust this CA certificate (PEM), e.g. the local gateway's (repeatable)
  -h, --help                show this help

exit codes: 0 valid (warnings allowed), 1 invalid (or the fetch failed),
            2 usage error: no or several arguments, unknown option, unreadable FILE or --ca file`;

const OPTIONS = {
  verbose: { type: 'boolean', short: 'v' },
  json: { type: 'boolean' },
  'allow-private-network': { type: 'boolean' },
  ca: { type: 'string', multiple: true },
} as const;

/** Anything that starts with a scheme is treated as a URL (and checked as one), unless a file has that name. */
const LOOKS_LIKE_URL = /^\s*[A-Za-z][A-Za-z0-9+.-]*:/;
const PRE_PARSE_RULES = ['doc.too_large', 'doc.invalid_json', 'doc.not_object'];

interface Report {
  target: string;
  kind: 'file' | 'url';
  valid: boolean;
  errors: Finding[];
  warnings: Finding[];
  passed: string[];
  address?: string;
  caching?: CachingHeaders;
  cacheLifetimeSeconds?: number;
}

/** `mcp-edge cimd validate`: exit 0 valid, 1 invalid, 2 usage. */
export async function run(args: string[], io: Io): Promise<number> {
  const fail = (message: string) => usageError(io, 'cimd validate', message, USAGE);
  const parsed = parseCommand(io, { name: 'cimd validate', usage: USAGE, options: OPTIONS }, args);
  if (!parsed.ok) return parsed.exitCode;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    return fail(positionals.length ? 'give exactly one FILE or URL' : 'missing the FILE or URL to validate');
  }
  const target = positionals[0]!;

  const ca: string[] = [];
  for (const file of values.ca ?? []) {
    try {
      ca.push(await readFile(file, 'utf8'));
    } catch (error) {
      return fail(`cannot read --ca ${file}: ${describeReadError(error)}`);
    }
  }

  let report: Report;
  if (LOOKS_LIKE_URL.test(target) && !existsSync(target)) {
    report = await validateUrl(target, { allowPrivateNetwork: Boolean(values['allow-private-network']), ca });
  } else {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(target);
    } catch (error) {
      return fail(`cannot read ${target}: ${describeReadError(error)}`);
    }
    report = validateFile(target, bytes);
  }

  if (values.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else io.out(formatReport(report, Boolean(values.verbose)));
  return report.valid ? 0 : 1;
}

async function validateUrl(
  url: string,
  options: { allowPrivateNetwork: boolean; ca: string[] },
): Promise<Report> {
  const result = await fetchAndValidateClientMetadata(url, {
    allowPrivateNetwork: options.allowPrivateNetwork,
    ...(options.ca.length ? { ca: options.ca } : {}),
  });
  const errors = result.ok ? [] : result.errors;
  // Rules after the stage that failed did not run, so they are not reported as passed.
  let checked: RuleDescription[] = [...URL_RULES];
  if (result.ok || result.stage === 'document') {
    checked = [...checked, ...FETCH_RULES, ...documentRulesChecked(errors, true)];
  }
  return {
    target: url,
    kind: 'url',
    valid: result.ok,
    errors,
    warnings: result.warnings,
    passed: passedRules(checked, errors, result.warnings),
    ...(result.address ? { address: result.address } : {}),
    ...(result.caching ? { caching: result.caching } : {}),
    ...(result.ok ? { cacheLifetimeSeconds: result.cacheLifetimeSeconds } : {}),
  };
}

function validateFile(file: string, bytes: Uint8Array): Report {
  const result = validateClientMetadataBytes(bytes);
  const errors = result.ok ? [] : [...result.errors];
  const warnings = [...result.warnings];
  let checked = documentRulesChecked(errors, false);
  // A file has no URL to compare client_id with, so check client_id as a client ID URL instead.
  const clientId = result.ok ? result.document.client_id : clientIdOf(bytes);
  if (typeof clientId === 'string') {
    const url = validateClientIdUrl(clientId);
    if (!url.ok) errors.push(...url.errors);
    warnings.push(...url.warnings);
    checked = [...URL_RULES, ...checked];
  }
  return {
    target: file,
    kind: 'file',
    valid: errors.length === 0,
    errors,
    warnings,
    passed: passedRules(checked, errors, warnings),
  };
}

/** The document rules that actually ran: parsing stops at the first pre-parse failure. */
function documentRulesChecked(errors: Finding[], compared: boolean): RuleDescription[] {
  const failed = new Set(errors.map((e) => e.rule));
  const stoppedAt = PRE_PARSE_RULES.findIndex((rule) => failed.has(rule));
  if (stoppedAt !== -1) {
    const ran = new Set(PRE_PARSE_RULES.slice(0, stoppedAt + 1));
    return DOCUMENT_RULES.filter((r) => ran.has(r.rule));
  }
  return DOCUMENT_RULES.filter((r) => compared || r.rule !== 'doc.client_id_mismatch');
}

function passedRules(checked: readonly RuleDescription[], errors: Finding[], warnings: Finding[]): string[] {
  const flagged = new Set([...errors, ...warnings].map((f) => f.rule));
  return checked.filter((r) => !flagged.has(r.rule)).map((r) => r.rule);
}

function clientIdOf(bytes: Uint8Array): unknown {
  try {
    return (JSON.parse(new TextDecoder().decode(bytes)) as { client_id?: unknown })?.client_id;
  } catch {
    return undefined;
  }
}

const DESCRIPTIONS = new Map(
  [...URL_RULES, ...FETCH_RULES, ...DOCUMENT_RULES].map((r) => [r.rule, r.description]),
);

function formatReport(report: Report, verbose: boolean): string {
  const lines = [`${report.kind === 'url' ? 'URL' : 'file'} ${report.target}`];
  if (verbose) {
    for (const rule of report.passed) lines.push(`  ok     ${rule}: ${DESCRIPTIONS.get(rule) ?? ''}`);
  }
  for (const error of report.errors) {
    lines.push(`  error  ${error.rule}: ${error.message}`);
    if (error.rule === 'fetch.tls')
      lines.push('         (served with a development CA? trust it with --ca FILE)');
    if (error.rule === 'ssrf.private_address') {
      lines.push('         (a local development server? allow it with --allow-private-network)');
    }
  }
  for (const warning of report.warnings) lines.push(`  warn   ${warning.rule}: ${warning.message}`);
  if (report.caching) {
    if (report.address) lines.push(`fetched from ${report.address}`);
    const c = report.caching;
    lines.push('caching headers:');
    lines.push(`  Cache-Control: ${c.cacheControl ?? '(none)'}`);
    lines.push(`  Expires: ${c.expires ?? '(none)'}`);
    lines.push(`  ETag: ${c.etag ?? '(none)'}`);
    lines.push(`  Last-Modified: ${c.lastModified ?? '(none)'}`);
    lines.push(`  Content-Type: ${c.contentType ?? '(none)'}`);
    if (report.cacheLifetimeSeconds !== undefined) {
      lines.push(
        report.cacheLifetimeSeconds === 0
          ? 'cache lifetime: not cached (no-store)'
          : `cache lifetime: ${report.cacheLifetimeSeconds} s (bounded to 30 s .. 24 h)`,
      );
    }
  }
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  lines.push(
    report.valid
      ? `valid${report.warnings.length ? ` (${count(report.warnings.length, 'warning')})` : ''}`
      : `invalid: ${count(report.errors.length, 'error')}${report.warnings.length ? `, ${count(report.warnings.length, 'warning')}` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}
