import { execFile } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The secret registry of a test run: every token, code, verifier, cookie, key and session id the
 * test support creates or receives is recorded here (test-results/logs/<run>/*.secrets.jsonl), so a
 * last check can grep every log line the gateway wrote during the run for each of them
 * (test/logs/secrets-never-logged.test.ts). Only the kind is ever printed, never a value.
 *
 * Recording is on when the run's log capture is (MCP_EDGE_SECRETS_FILE, set by
 * test/support/log-capture.ts for every test file); otherwise it does nothing.
 */
export type SecretKind =
  | 'gateway access token'
  | 'gateway refresh token'
  | 'authorization code'
  | 'pkce verifier'
  | 'state'
  | 'cookie'
  | 'csrf token'
  | 'upstream access token'
  | 'upstream refresh token'
  | 'id token'
  | 'client secret'
  | 'session id'
  | 'sealing key'
  | 'vault key'
  | 'signing key';

/** Shorter values would match by chance (a `state=test`, a short id); real secrets are longer. */
const MIN_LENGTH = 16;

const recorded = new Set<string>();

/** Records one secret value of `kind` for the run's final log check (no-op without capture). */
export function recordSecret(kind: SecretKind, value: string | undefined | null): void {
  const file = process.env.MCP_EDGE_SECRETS_FILE;
  if (!file || typeof value !== 'string' || value.length < MIN_LENGTH) return;
  const key = `${kind}\n${value}`;
  if (recorded.has(key)) return;
  recorded.add(key);
  appendFileSync(file, `${JSON.stringify({ kind, value })}\n`);
}

/** Records binary key material in every text form a log line could show it in. */
export function recordKey(kind: SecretKind, key: Uint8Array): void {
  const bytes = Buffer.from(key);
  for (const encoding of ['base64', 'base64url', 'hex'] as const)
    recordSecret(kind, bytes.toString(encoding));
}

/** Records the private key body of a PEM: its first base64 line is in any copy of the key. */
export function recordPemKey(kind: SecretKind, pem: string): void {
  const line = pem.split('\n').find((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l.trim()));
  recordSecret(kind, line?.trim());
  recordSecret(kind, pem.replace(/-----[^-]+-----|\s/g, ''));
}

/** Secret fields of a token or registration answer (JSON). */
const ANSWER_FIELDS: Record<string, SecretKind> = {
  access_token: 'gateway access token',
  refresh_token: 'gateway refresh token',
  id_token: 'id token',
  client_secret: 'client secret',
};

/** Secret parameters of a request's form or a redirect's query (a JSON `code` is a refusal code, not these). */
const PARAMETER_FIELDS: Record<string, SecretKind> = {
  ...ANSWER_FIELDS,
  code: 'authorization code',
  code_verifier: 'pkce verifier',
  token: 'gateway refresh token',
  state: 'state',
  csrf: 'csrf token',
};

function record(
  fields: Iterable<[string, unknown]>,
  names: Record<string, SecretKind>,
  upstream: boolean | undefined,
): void {
  for (const [name, value] of fields) {
    let kind = names[name];
    if (!kind || typeof value !== 'string') continue;
    if (upstream && kind === 'gateway access token') kind = 'upstream access token';
    if (upstream && kind === 'gateway refresh token') kind = 'upstream refresh token';
    recordSecret(kind, value);
  }
}

/**
 * Records the secret parameters of a form or a query (a token request, a callback, an
 * authorization redirect). `upstream` names tokens of the upstream's authorization server.
 */
export function recordOAuthParameters(params: URLSearchParams, options: { upstream?: boolean } = {}): void {
  record(params.entries(), PARAMETER_FIELDS, options.upstream);
}

/** Records a JSON body's OAuth fields when it is a JSON object (anything else is ignored). */
export function recordJsonBody(text: string, options: { upstream?: boolean } = {}): void {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      record(Object.entries(value), ANSWER_FIELDS, options.upstream);
    }
  } catch {
    // not JSON
  }
}

export interface RegisteredSecret {
  readonly kind: SecretKind;
  readonly value: string;
}

/** Every secret recorded in the files of a run's log directory (one file per test file). */
export function registeredSecrets(dir: string, only?: string): RegisteredSecret[] {
  const files = only ? [only] : readdirSync(dir).filter((f) => f.endsWith('.secrets.jsonl'));
  const out: RegisteredSecret[] = [];
  for (const file of files) {
    const path = only ? file : join(dir, file);
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line) out.push(JSON.parse(line) as RegisteredSecret);
    }
  }
  return out;
}

/** Records what an authorization server answered at its token endpoint (oidc-provider's `grant.success`). */
export function recordTokenAnswer(body: unknown, options: { upstream?: boolean } = {}): void {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    record(Object.entries(body), ANSWER_FIELDS, options.upstream);
  }
}

/**
 * The recorded secrets found in each of `files`, as "kind (n)" counts per file (files without any
 * are left out), by grep: `grep -F -o -f` looks for all of them in one pass (a fixed-string
 * automaton), so the whole run's logs are checked in about a second. The values grep prints stay
 * in this process; only their kinds come out.
 */
export async function leakedKindsIn(
  files: readonly string[],
  secrets: readonly RegisteredSecret[],
): Promise<Map<string, string[]>> {
  const leaks = new Map<string, string[]>();
  if (files.length === 0 || secrets.length === 0) return leaks;
  const kinds = new Map<string, SecretKind>();
  for (const { kind, value } of secrets) {
    kinds.set(value, kind);
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value) kinds.set(escaped, kind);
  }
  const dir = await mkdtemp(join(tmpdir(), 'mcp-edge-secrets-'));
  try {
    const patterns = join(dir, 'patterns');
    await writeFile(patterns, `${[...kinds.keys()].join('\n')}\n`, { mode: 0o600 });
    const found = await new Promise<string>((resolve, reject) => {
      execFile(
        'grep',
        ['-F', '-o', '-H', '-f', patterns, '--', ...files],
        { maxBuffer: 256 * 1024 * 1024 },
        (error, stdout) => {
          // grep exits 1 when nothing matched: the good case.
          if (error && error.code !== 1) reject(new Error(`grep failed (${String(error.code)})`));
          else resolve(stdout);
        },
      );
    });
    const counts = new Map<string, Map<string, Set<string>>>();
    for (const line of found.split('\n')) {
      const file = files.find((f) => line.startsWith(`${f}:`));
      if (!file) continue;
      const match = line.slice(file.length + 1);
      const kind = kinds.get(match) ?? 'a part of a recorded secret';
      const byKind = counts.get(file) ?? new Map<string, Set<string>>();
      byKind.set(kind, (byKind.get(kind) ?? new Set()).add(match));
      counts.set(file, byKind);
    }
    for (const [file, byKind] of counts) {
      leaks.set(
        file,
        [...byKind].map(([kind, values]) => `${kind} (${values.size})`),
      );
    }
    return leaks;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
