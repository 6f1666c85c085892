import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '../../functions/local/ports.ts';
import { requireNode22 } from './node22.ts';

/**
 * `@modelcontextprotocol/conformance authorization` (0.2.0-alpha.12), the outside judge of a route's
 * authorization server, driven from a vitest test.
 *
 * What the runner does (read from its dist and confirmed against a stand-in server):
 *
 * - It needs Node >= 22 (its bundle imports `globSync` from `fs`), hence the separate binary.
 * - Without `--scenario` it runs `authorization-server-metadata-endpoint` then
 *   `authorization-code-grant`; the second reuses the metadata the first fetched, so it can only
 *   pass in such a full run (alone, it always fails with "Invalid authorization server metadata").
 * - Metadata: GETs `<origin>/.well-known/oauth-authorization-server<path>`, then the two
 *   `openid-configuration` forms, taking the first 200 (no redirects followed, no Accept header;
 *   network and TLS errors are swallowed into "All authorization server metadata endpoints returned
 *   invalid status code."). `issuer` must equal `--url` character for character.
 * - Code grant: prints the authorize URL (no `scope`; PKCE S256; `state`; `resource` when given;
 *   `redirect_uri=http://127.0.0.1:<port>/callback`), waits up to 5 minutes for one GET on that
 *   callback, then redeems the code with `client_id` in the form (no secret given, or metadata
 *   lists `none`). Nothing follows: no refresh, no revocation, no negative cases.
 * - Stdout shows only a per-scenario summary in a full run; the per-check verdicts and error
 *   messages are in `<output-dir>/authorization-server-<scenario>-<timestamp>/checks.json`, which
 *   this helper always asks for and returns as {@link ConformanceResult.checks}.
 * - Exit code: 1 if any check is FAILURE (or on a usage error), else 0. WARNING and SKIPPED do
 *   not fail it, so a run without a client id "passes" with the code grant skipped: use
 *   {@link ConformanceResult.ok}, not the exit code alone.
 */

export const CONFORMANCE_SCENARIOS = [
  'authorization-server-metadata-endpoint',
  'authorization-code-grant',
] as const;
export type ConformanceScenario = (typeof CONFORMANCE_SCENARIOS)[number];

/** The runner's check statuses (`INFO` is not emitted by these two scenarios). */
export type ConformanceStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED' | 'INFO';

/** One entry of a scenario's checks.json, tagged with the scenario it came from. */
export interface ConformanceCheck {
  readonly scenario: ConformanceScenario;
  /** `authorization-server-metadata`, `authorization-server-metadata-cimd` or `authorization-code-grant`. */
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly status: ConformanceStatus;
  readonly timestamp: string;
  readonly errorMessage?: string;
  readonly details?: Record<string, unknown>;
  readonly source?: { introducedIn?: string };
  readonly specReferences?: readonly { id: string; url: string }[];
}

/** One line of the runner's `=== SUMMARY ===` block: `✓ <scenario>: <n> passed, <m> failed`. */
export interface ConformanceSummaryLine {
  readonly scenario: string;
  readonly passed: number;
  readonly failed: number;
}

export interface ConformanceResult {
  /** The runner's exit code; `null` when it ended by a signal (our timeout or {@link ConformanceRun.stop}). */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when the helper's own timeout killed the runner. */
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** Every check from the output directory's checks.json files, metadata scenario first. */
  readonly checks: readonly ConformanceCheck[];
  readonly summary: readonly ConformanceSummaryLine[];
  /**
   * The runner exited 0 and every scenario that ran reported at least one SUCCESS and no FAILURE or
   * SKIPPED check. WARNING (e.g. `authorization-server-metadata-cimd` when metadata lacks
   * `client_id_metadata_document_supported: true`) does not make it false; assert on it separately.
   */
  readonly ok: boolean;
}

export interface ConformanceOptions {
  /** `--url`: the issuer, exactly as the metadata's `issuer` spells it (a trailing `/` matters). */
  readonly issuer: string;
  /** `--client-id`, sent as-is (a CIMD URL or a registered id); without it the code grant is SKIPPED. */
  readonly clientId?: string;
  /** `--client-secret`; only used if the metadata does not list `none` among its auth methods. */
  readonly clientSecret?: string;
  /** `--resource` (RFC 8707), sent on both the authorize and the token request. */
  readonly resource?: string;
  /** `-p`: the loopback callback port (default: a free one). See {@link conformanceRedirectUri}. */
  readonly callbackPort?: number;
  /**
   * `--scenario`. Only the metadata scenario makes sense alone: `authorization-code-grant` without the
   * metadata scenario before it always fails. Omit to run both.
   */
  readonly scenario?: 'authorization-server-metadata-endpoint';
  /** `--spec-version`; e.g. `2025-06-18` drops the 2025-11-25 CIMD check. Default: every check. */
  readonly specVersion?: string;
  /** NODE_EXTRA_CA_CERTS for the runner (a PEM file, e.g. `DevCertificate.caPath`), for an https issuer. */
  readonly extraCaCertsPath?: string;
  /** Kill the runner after this long (default 120 s; the runner itself waits 5 min for the callback). */
  readonly timeoutMs?: number;
  /** Node >= 22 binary (default: {@link requireNode22}). */
  readonly nodePath?: string;
  /** Keep the results directory instead of deleting it after reading it. */
  readonly keepOutputDir?: boolean;
}

export interface ConformanceRun {
  readonly callbackPort: number;
  /** `http://127.0.0.1:<callbackPort>/callback`: what the client must have registered. */
  readonly redirectUri: string;
  /** Where checks.json files are written (deleted once read unless `keepOutputDir`). */
  readonly outputDir: string;
  /**
   * The authorization request URL, as soon as the runner prints it. Rejects if the runner exits or
   * times out without printing one (e.g. metadata failed). Drive it through sign-in and consent
   * until the browser is sent to {@link redirectUri}, then GET that URL (the runner answers 200
   * "OK. You can close this page.").
   */
  readonly authorizeUrl: Promise<URL>;
  /** Settles when the runner has exited; never rejects. */
  readonly result: Promise<ConformanceResult>;
  /** Kills the runner if still running (SIGTERM, then SIGKILL) and returns the result. Idempotent. */
  stop(): Promise<ConformanceResult>;
}

/** The redirect URI the runner uses for a callback port (always 127.0.0.1, path `/callback`). */
export function conformanceRedirectUri(port: number): string {
  return `http://127.0.0.1:${port}/callback`;
}

/** The runner's entry point, resolved from node_modules (the package has no `exports` map). */
export function conformanceCliPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist/index.js');
}

/** The text printed on the line before the authorize URL. */
const AUTHORIZE_URL_MARKER = 'Access the following URL in your browser';
const KILL_GRACE_MS = 2_000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences are control characters
const ANSI = /\x1b\[[0-9;]*m/g;

/** Parses the `=== SUMMARY ===` lines of the runner's stdout. */
export function parseConformanceSummary(stdout: string): ConformanceSummaryLine[] {
  const lines: ConformanceSummaryLine[] = [];
  for (const match of stdout.replace(ANSI, '').matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed$/gmu)) {
    lines.push({ scenario: match[1]!, passed: Number(match[2]), failed: Number(match[3]) });
  }
  return lines;
}

/** Reads `authorization-server-<scenario>-<timestamp>/checks.json` files, metadata scenario first. */
async function readChecks(outputDir: string): Promise<ConformanceCheck[]> {
  let entries: string[];
  try {
    entries = await readdir(outputDir);
  } catch {
    return [];
  }
  const checks: ConformanceCheck[] = [];
  for (const scenario of CONFORMANCE_SCENARIOS) {
    for (const entry of entries.filter((e) => e.startsWith(`authorization-server-${scenario}-`)).sort()) {
      try {
        const parsed = JSON.parse(await readFile(join(outputDir, entry, 'checks.json'), 'utf8')) as unknown;
        if (!Array.isArray(parsed)) continue;
        for (const check of parsed as Omit<ConformanceCheck, 'scenario'>[])
          checks.push({ scenario, ...check });
      } catch {
        // A scenario killed before it finished has a directory but no checks.json.
      }
    }
  }
  return checks;
}

function judge(exitCode: number | null, checks: readonly ConformanceCheck[]): boolean {
  if (exitCode !== 0 || checks.length === 0) return false;
  if (checks.some((c) => c.status === 'FAILURE' || c.status === 'SKIPPED')) return false;
  const scenarios = new Set(checks.map((c) => c.scenario));
  return [...scenarios].every((s) => checks.some((c) => c.scenario === s && c.status === 'SUCCESS'));
}

/**
 * Starts the runner. Always `await run.stop()` (e.g. in `afterEach`/`finally`): it is a no-op once
 * the runner has exited and otherwise kills it.
 *
 * ```ts
 * const run = await startConformance({ issuer, clientId, resource, extraCaCertsPath: cert.caPath });
 * try {
 *   const callback = await browser.authorize(await run.authorizeUrl, run.redirectUri, 'alice');
 *   await fetch(callback); // hands the code to the runner, which redeems it
 *   const result = await run.result;
 *   expect(result.checks.filter((c) => c.status !== 'SUCCESS')).toEqual([]);
 *   expect(result.ok).toBe(true);
 * } finally {
 *   await run.stop();
 * }
 * ```
 */
export async function startConformance(options: ConformanceOptions): Promise<ConformanceRun> {
  const node = options.nodePath ?? requireNode22();
  const callbackPort = options.callbackPort ?? (await freePort());
  const outputDir = await mkdtemp(join(tmpdir(), 'mcp-edge-conformance-'));

  const args = [conformanceCliPath(), 'authorization', '--url', options.issuer];
  if (options.clientId !== undefined) args.push('--client-id', options.clientId);
  if (options.clientSecret !== undefined) args.push('--client-secret', options.clientSecret);
  if (options.resource !== undefined) args.push('--resource', options.resource);
  if (options.scenario !== undefined) args.push('--scenario', options.scenario);
  if (options.specVersion !== undefined) args.push('--spec-version', options.specVersion);
  args.push('-p', String(callbackPort), '-o', outputDir);

  // NODE_OPTIONS is dropped: whatever loaders vitest or tsx put there are not for the runner.
  const { NODE_OPTIONS: _dropped, ...env } = process.env;
  if (options.extraCaCertsPath !== undefined) env.NODE_EXTRA_CA_CERTS = options.extraCaCertsPath;

  const child: ChildProcess = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });

  let stdout = '';
  let stderr = '';
  let pending = '';
  let markerSeen = false;
  let timedOut = false;
  let resolveUrl!: (url: URL) => void;
  let rejectUrl!: (error: Error) => void;
  const authorizeUrl = new Promise<URL>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  // A test that never asks for the URL (metadata-only runs) must not see an unhandled rejection.
  authorizeUrl.catch(() => {});
  let urlSettled = false;

  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdout += chunk;
    if (urlSettled) return;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.replace(ANSI, '').trim();
      if (line.startsWith(AUTHORIZE_URL_MARKER)) {
        markerSeen = true;
      } else if (markerSeen && line !== '') {
        urlSettled = true;
        if (URL.canParse(line)) resolveUrl(new URL(line));
        else rejectUrl(new Error(`conformance runner printed an unparseable authorize URL: ${line}`));
        break;
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });

  const killChild = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  // Last resort if a test forgets stop(): do not leave the runner (and its callback port) behind.
  process.once('exit', killChild);

  let killTimer: NodeJS.Timeout | undefined;
  const terminate = (): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killChild();
    killTimer ??= setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, KILL_GRACE_MS);
    killTimer.unref();
  };
  const timeout = setTimeout(() => {
    timedOut = true;
    terminate();
  }, options.timeoutMs ?? 120_000);
  timeout.unref();

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => {
      stderr += `\n[conformance helper] spawn error: ${error.message}`;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  const result = exited.then(async ({ code, signal }): Promise<ConformanceResult> => {
    clearTimeout(timeout);
    if (killTimer) clearTimeout(killTimer);
    process.removeListener('exit', killChild);
    if (!urlSettled) {
      urlSettled = true;
      rejectUrl(
        new Error(
          `conformance runner ${timedOut ? 'timed out' : `exited (code ${code}, signal ${signal})`} ` +
            `without printing an authorize URL\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
        ),
      );
    }
    const checks = await readChecks(outputDir);
    if (!options.keepOutputDir) await rm(outputDir, { recursive: true, force: true });
    return {
      exitCode: code,
      signal,
      timedOut,
      stdout,
      stderr,
      checks,
      summary: parseConformanceSummary(stdout),
      ok: judge(code, checks),
    };
  });

  return {
    callbackPort,
    redirectUri: conformanceRedirectUri(callbackPort),
    outputDir,
    authorizeUrl,
    result,
    stop: () => {
      terminate();
      return result;
    },
  };
}
