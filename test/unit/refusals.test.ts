import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oauthError } from '../../functions/core/authorization/oauth-errors.ts';
import { refusalJson } from '../../functions/core/http/errors.ts';
import { jsonRpcRefusal } from '../../functions/core/proxy/jsonrpc.ts';
import {
  isRefusalCode,
  REFUSAL_HEADER,
  REFUSALS,
  type RefusalCode,
  refusalMessage,
  safeDetail,
} from '../../functions/core/refusals.ts';
import { refusalPage } from '../../functions/core/web/html.ts';

const CODES = Object.keys(REFUSALS) as RefusalCode[];

/** Every `.ts` file under functions/ (and lib/, where API Gateway and the WAF answer), with its text. */
async function sources(dirs = ['functions']): Promise<{ path: string; text: string }[]> {
  const out: { path: string; text: string }[] = [];
  for (const dir of dirs) {
    for (const name of await readdir(dir, { recursive: true })) {
      if (!name.endsWith('.ts')) continue;
      const path = join(dir, name);
      out.push({ path, text: await readFile(path, 'utf8') });
    }
  }
  return out;
}

/** RFC 6749 §5.2: `error_description` is ASCII without `"` and `\`. */
const OAUTH_DESCRIPTION = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

/** The error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2 and RFC 8707. */
const RFC_ERRORS = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'invalid_client',
  'invalid_grant',
  'unsupported_grant_type',
  'invalid_token',
  'invalid_redirect_uri',
  'invalid_client_metadata',
  'invalid_target',
]);

describe('the refusal catalogue', () => {
  it.each(CODES)('%s: a 4xx or 5xx status, a title and a fixed message', (code) => {
    const { status, title, message, oauth, jsonrpc } = REFUSALS[code];
    expect(code).toMatch(/^[a-z][a-z0-9_]*[a-z0-9]$/);
    expect(Number.isInteger(status) && status >= 400 && status <= 599).toBe(true);
    expect(title.length).toBeGreaterThan(2);
    expect(message.length).toBeGreaterThan(10);
    expect(message).toMatch(/[.!?)]$/);
    // Fixed text: nothing in it could have been filled from a request.
    expect(`${title}${message}`).not.toMatch(/\$\{|%s|\{\w+\}/);
    if (oauth !== undefined) {
      expect(RFC_ERRORS.has(oauth), `${oauth} is an RFC error code`).toBe(true);
      expect(message).toMatch(OAUTH_DESCRIPTION);
    }
    if (jsonrpc !== undefined) expect(Number.isInteger(jsonrpc) && jsonrpc < 0).toBe(true);
  });

  it('holds codes distinct from each other whatever their case', () => {
    expect(new Set(CODES.map((c) => c.toLowerCase())).size).toBe(CODES.length);
  });

  it('has no dead codes: every code is used somewhere in functions/ or lib/', async () => {
    const files = (await sources(['functions', 'lib'])).filter(
      (f) => !f.path.endsWith(join('core', 'refusals.ts')),
    );
    const used = new Set<string>();
    for (const { text } of files) for (const m of text.matchAll(/'([a-z][a-z0-9_]*)'/g)) used.add(m[1]!);
    expect(CODES.filter((code) => !used.has(code))).toEqual([]);
  });

  it('knows every code the functions refuse with', async () => {
    // The calls that render a refusal, and the result codes that become one (connect, sign-in,
    // discovery, client choice, the client resolver, state records, the upstream client).
    const patterns = [
      /\b(?:refusalPage|refusalJson|oauthError|jsonRpcRefusal|refusalRedirect|back)\(\s*'([a-z_]+)'/g,
      /new HttpError\(\s*'([a-z_]+)'/g,
      /\bchallenge\(\s*\w+,\s*'([a-z_]+)'/g,
    ];
    const resultCodes = [
      { file: /core\/(connect|auth|oauth)\//, pattern: /\bfail\(\s*'([a-z_]+)'/g },
      { file: /core\/authorization\/clients\.ts$/, pattern: /\brefuse\(\s*'([a-z_]+)'/g },
      {
        file: /core\/(store\/state|proxy\/upstream-client|authorization\/authorize-request)\.ts$/,
        pattern: /\bcode: '([a-z_]+)'/g,
      },
    ];
    const unknown: string[] = [];
    let seen = 0;
    for (const { path, text } of await sources()) {
      const all = [...patterns, ...resultCodes.filter((r) => r.file.test(path)).map((r) => r.pattern)];
      for (const pattern of all) {
        for (const m of text.matchAll(pattern)) {
          seen += 1;
          if (!isRefusalCode(m[1]!)) unknown.push(`${path}: ${m[1]}`);
        }
      }
    }
    expect(seen).toBeGreaterThan(100);
    expect(unknown).toEqual([]);
  });

  it('knows the codes API Gateway and the WAF answer with (lib/), with the same message', async () => {
    const found: string[] = [];
    for (const { path, text } of await sources(['lib'])) {
      for (const m of text.matchAll(/error: '([a-z_]+)',\s*error_description:\s*'([^']+)'/g)) {
        found.push(m[1]!);
        expect(isRefusalCode(m[1]!), `${path}: ${m[1]}`).toBe(true);
        expect(m[2], `${path}: ${m[1]}`).toBe(REFUSALS[m[1] as RefusalCode].message);
      }
      for (const m of text.matchAll(/'x-mcp-edge-refusal': "'([a-z_]+)'"/g)) {
        expect(isRefusalCode(m[1]!), `${path}: ${m[1]}`).toBe(true);
      }
    }
    expect(found.length).toBeGreaterThan(0);
  });

  it('shows a detail only when it is a short identifier', () => {
    expect(safeDetail('fetch.too_large')).toBe('fetch.too_large');
    expect(safeDetail('redirect_uris.0')).toBe('redirect_uris.0');
    for (const hostile of ['<b>x</b>', 'a b', 'x'.repeat(81), '', 'é', 'a"b', 'https://evil.example/x'])
      expect(safeDetail(hostile)).toBeUndefined();
    expect(refusalMessage('client_invalid', 'client_blocked')).toBe(
      `${REFUSALS.client_invalid.message} (client_blocked)`,
    );
    expect(refusalMessage('client_invalid', '<script>')).toBe(REFUSALS.client_invalid.message);
  });
});

describe('refusal answers', () => {
  it('a page: its status, title, message and code, and the code in the header', async () => {
    const res = refusalPage('csrf', { detail: 'rule.x' });
    expect(res.status).toBe(403);
    expect(res.headers.get(REFUSAL_HEADER)).toBe('csrf');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.text();
    expect(body).toContain('<code>csrf</code>');
    expect(body).toContain('<code>rule.x</code>');
  });

  it('the gateway’s JSON: the code in `error` and in the header', async () => {
    const res = refusalJson('unknown_route', { headers: { allow: 'GET' } });
    expect(res.status).toBe(404);
    expect(res.headers.get(REFUSAL_HEADER)).toBe('unknown_route');
    expect(res.headers.get('allow')).toBe('GET');
    expect(await res.json()).toEqual({
      error: 'unknown_route',
      error_description: REFUSALS.unknown_route.message,
    });
  });

  it('an OAuth error: the RFC code in `error`, the gateway’s code in the header, CORS exposing it', async () => {
    const res = oauthError('code_replayed');
    expect(res.status).toBe(400);
    expect(res.headers.get(REFUSAL_HEADER)).toBe('code_replayed');
    expect(res.headers.get('access-control-expose-headers')).toContain(REFUSAL_HEADER);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({
      error: 'invalid_grant',
      error_description: REFUSALS.code_replayed.message,
    });
  });

  it('a JSON-RPC error: the id echoed, the JSON-RPC code, the gateway’s code in `error.data.error` and the header', async () => {
    const res = jsonRpcRefusal('upstream_error', 'call-1', { status: 503 });
    expect(res.status).toBe(502);
    expect(res.headers.get(REFUSAL_HEADER)).toBe('upstream_error');
    expect(res.headers.get('access-control-expose-headers')).toContain(REFUSAL_HEADER);
    expect(await res.json()).toEqual({
      jsonrpc: '2.0',
      id: 'call-1',
      error: {
        code: -32001,
        message: REFUSALS.upstream_error.message,
        data: { error: 'upstream_error', status: 503 },
      },
    });
  });
});

/** The README's refusal-code table, generated from the catalogue. */
function readmeTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = CODES.map((code) => {
    const { status, message, oauth, jsonrpc } = REFUSALS[code];
    const as = oauth ? `\`${oauth}\`` : jsonrpc !== undefined ? `JSON-RPC \`${jsonrpc}\`` : '';
    return `| \`${code}\` | ${status} | ${as} | ${cell(message)} |`;
  });
  return ['| code | status | OAuth `error` / JSON-RPC | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

describe('README.md', () => {
  const START = '<!-- refusal-codes:start -->';
  const END = '<!-- refusal-codes:end -->';

  it('lists every refusal code with its status and meaning, as the catalogue has them', async () => {
    const readme = await readFile('README.md', 'utf8');
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    expect(start, `README.md needs ${START} … ${END}`).toBeGreaterThan(0);
    const current = readme.slice(start + START.length, end).trim();
    const expected = readmeTable();
    if (current !== expected && process.env.UPDATE_README === '1') {
      await writeFile(
        'README.md',
        `${readme.slice(0, start + START.length)}\n${expected}\n${readme.slice(end)}`,
      );
      return;
    }
    // After changing the catalogue: UPDATE_README=1 npx vitest run test/unit/refusals.test.ts
    expect(current).toBe(expected);
  });
});
