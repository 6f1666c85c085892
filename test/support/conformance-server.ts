import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { conformanceCliPath } from './conformance.ts';
import { requireNode22 } from './node22.ts';

export { type StatelessUpstream, startStatelessUpstream } from './upstreams/conformance-upstream.ts';

/**
 * `@modelcontextprotocol/conformance server` (0.2.0-alpha.12) against an MCP server, driven from a
 * vitest test (Node 20), plus the upstreams it is pointed at (server-everything here; the 2026-07-28
 * fixture upstream in `upstreams/conformance-upstream.ts`, re-exported).
 *
 * What the runner does (read from its dist, confirmed by runs):
 *
 * - Node >= 22 only (its bundle imports `globSync` from `fs`).
 * - Flags: `--url` (required), `--scenario <name>`, `--suite active|all|draft|pending` (default
 *   `active`: the 31 scenarios of the 2025 wire), `--spec-version`, `--force`, `--requirements
 *   <revision>` (exactly one revision's frozen set, run at that revision's wire; cannot be combined
 *   with `--scenario`/`--suite`/`--spec-version`), `--expected-failures <yaml>`, `-o <dir>`,
 *   `--timeout <ms>` (per scenario, default 30000), `--verbose`. There is NO way to add a request
 *   header (no flag, env var or config file), so {@link runServerConformance} puts a
 *   {@link startHeaderShim | local forwarding shim} between the runner and the target when headers
 *   are wanted (or the target is https).
 * - The runner speaks HTTP three ways: global `fetch` (SDK v1 client; the stateless wire), npm
 *   `undici.request` (dns-rebinding-protection, which sets `Host`/`Origin` itself) and plain
 *   `http.request` (http-header-validation, so an https URL cannot work there).
 * - Output: stdout has a `=== SUMMARY ===` block (`✓|✗ <scenario>: <n> passed, <m> failed`, WARNING,
 *   INFO and SKIPPED not counted) and, with `--requirements`, a `Not scored for <rev>` block. With
 *   `-o` each scenario writes `<dir>/server-<scenario>-<timestamp>/checks.json` (an array of checks:
 *   `id`, `name`, `description`, `status` SUCCESS|FAILURE|WARNING|SKIPPED|INFO, `timestamp`,
 *   `errorMessage?`, `details?`, `specReferences?`); a scenario that throws writes none (the
 *   runner substitutes one FAILURE check only in its summary).
 * - Exit code: 1 if any FAILURE check (with `--requirements`: any FAILURE in a *required*
 *   scenario; extension/pending/added-after-release scenarios run but are not scored), 1 on usage
 *   errors, else 0.
 * - Duration against a local server: ~8 s for the active suite, ~4-7 s for `--requirements
 *   2026-07-28`.
 */

// ---------------------------------------------------------------------------------------------
// Child processes

const KILL_GRACE_MS = 2_000;

interface Supervised {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after a grace period. Idempotent; a no-op once exited. */
  terminate(): void;
}

function supervise(child: ChildProcess): Supervised {
  const running = () => child.exitCode === null && child.signalCode === null;
  const killNow = () => {
    if (running()) child.kill('SIGKILL');
  };
  // Last resort if a test forgets to stop it: do not leave it (and its port) behind.
  process.once('exit', killNow);
  let killTimer: NodeJS.Timeout | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: null, signal: null }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => {
    process.removeListener('exit', killNow);
    if (killTimer) clearTimeout(killTimer);
  });
  return {
    exited,
    terminate: () => {
      if (!running()) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(killNow, KILL_GRACE_MS);
      killTimer.unref();
    },
  };
}

/** Keeps the last `max` characters of a stream. */
function tail(max: number): { push(chunk: string): void; text(): string } {
  let text = '';
  return {
    push: (chunk) => {
      text = (text + chunk).slice(-max);
    },
    text: () => text,
  };
}

// ---------------------------------------------------------------------------------------------
// @modelcontextprotocol/server-everything (2025 wire, stateful streamable HTTP, SDK v1)

export interface EverythingServer {
  /** `http://127.0.0.1:<port>/mcp`. */
  readonly url: string;
  readonly port: number;
  /** The last 64 KiB of its stdout and stderr (it logs every request). */
  output(): string;
  /** Kills it (SIGTERM, then SIGKILL) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

export interface EverythingServerOptions {
  /** Give up (and kill it) if it is not listening by then; default 20 s (it takes ~2-3 s). */
  readonly startTimeoutMs?: number;
  /** Node binary; default this process's (Node 20 works). */
  readonly nodePath?: string;
}

const LISTENING_MARKER = '[conformance-server] listening';

/**
 * Preloaded into server-everything: its `app.listen(process.env.PORT)` binds every interface and
 * logs the configured rather than the actual port. This pins a bare port to 127.0.0.1 and prints
 * the bound port, so `PORT=0` works without a race.
 */
const LOOPBACK_PRELOAD = `
import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const bare = typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\\d+$/.test(args[0]));
  if (bare && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  this.once('listening', () => {
    const a = this.address();
    if (a && typeof a === 'object') process.stderr.write('${LISTENING_MARKER} ' + a.address + ' ' + a.port + '\\n');
  });
  return listen.apply(this, args);
};
`;

function everythingEntry(): string {
  const require = createRequire(import.meta.url);
  return join(
    dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')),
    'dist/index.js',
  );
}

/**
 * Starts `mcp-server-everything streamableHttp` (2026.8.31) on a free port on 127.0.0.1. Its
 * environment is reduced to PATH (it has a `get-env` tool that returns `process.env`). It serves
 * sessions (`Mcp-Session-Id`), GET streams and DELETE, and answers a request for an unknown
 * session with 400 (not the 404 the spec asks for).
 */
export async function startEverythingServer(
  options: EverythingServerOptions = {},
): Promise<EverythingServer> {
  const child = spawn(
    options.nodePath ?? process.execPath,
    [
      '--import',
      `data:text/javascript,${encodeURIComponent(LOOPBACK_PRELOAD)}`,
      everythingEntry(),
      'streamableHttp',
    ],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const supervised = supervise(child);
  const log = tail(64 * 1024);
  const port = await new Promise<number>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(
      () => reject(new Error(`server-everything did not start listening\n${log.text()}`)),
      options.startTimeoutMs ?? 20_000,
    );
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => log.push(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      log.push(chunk);
      pending += chunk;
      const match = pending.match(new RegExp(`${LISTENING_MARKER.replace(/[[\]]/g, '\\$&')} \\S+ (\\d+)`));
      if (match) {
        clearTimeout(timer);
        pending = '';
        resolve(Number(match[1]));
      }
    });
    void supervised.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server-everything exited (code ${code}, signal ${signal})\n${log.text()}`));
    });
  }).catch(async (error: unknown) => {
    supervised.terminate();
    await supervised.exited;
    throw error;
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    output: log.text,
    stop: async () => {
      supervised.terminate();
      await supervised.exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A header-adding forwarding shim

export interface HeaderShimOptions {
  /** Where to forward, e.g. `https://localhost:8443/mcp`. The shim serves the same path. */
  readonly target: string;
  /** Set on every forwarded request, replacing any the runner sent (e.g. `Authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** PEM CA(s) trusted for an https target (e.g. `TestGateway.cert.ca`). */
  readonly ca?: string;
}

export interface HeaderShim {
  /** `http://127.0.0.1:<port><target path>`: hand this to the runner. */
  readonly url: string;
  /** How many requests were forwarded (proof the runner went through the shim). */
  readonly forwarded: number;
  /** Upstream connection failures, answered 502 to the runner. */
  readonly errors: readonly string[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardableHeaders(raw: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (!HOP_BY_HOP.has(name.toLowerCase())) pairs.push([name, raw[i + 1]!]);
  }
  return pairs;
}

function toOutgoing(pairs: ReadonlyArray<[string, string]>): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else out[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

/**
 * A plain-HTTP forwarder on 127.0.0.1 that adds headers: the least-bad way to give the runner a
 * bearer token, since it has no option for one. Requests and responses stream through unbuffered
 * (SSE, long-lived `subscriptions/listen` POSTs); method, path, query, body and headers pass as
 * they are, except hop-by-hop headers, and `Host`/`Origin` naming the shim itself, which become
 * the target's (a foreign `Host`/`Origin`, as dns-rebinding-protection sends, is kept). Limits:
 * leading/trailing whitespace of header values is trimmed by Node's parser before forwarding (one
 * http-header-validation case becomes vacuous), and the target sees the shim's IP.
 */
export async function startHeaderShim(options: HeaderShimOptions): Promise<HeaderShim> {
  const target = new URL(options.target);
  const extra = Object.entries(options.headers ?? {});
  const extraNames = new Set(extra.map(([name]) => name.toLowerCase()));
  const upstreams = new Set<ClientRequest>();
  const errors: string[] = [];
  let forwarded = 0;
  let shimHost = '';

  const server: Server = createServer((req: IncomingMessage, res) => {
    forwarded++;
    const pairs = forwardableHeaders(req.rawHeaders)
      .filter(([name]) => !extraNames.has(name.toLowerCase()))
      .map(([name, value]): [string, string] => {
        const key = name.toLowerCase();
        if (key === 'host' && value.toLowerCase() === shimHost) return [name, target.host];
        if (key === 'origin' && value.toLowerCase() === `http://${shimHost}`) return [name, target.origin];
        return [name, value];
      });
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const upstream = send(
      {
        protocol: target.protocol,
        hostname: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port,
        method: req.method,
        path: req.url,
        headers: toOutgoing([...pairs, ...extra]),
        agent: false,
        // Explicit, or Node would derive SNI and the certificate check from a forwarded foreign Host.
        ...(target.protocol === 'https:' ? { servername: target.hostname, ca: options.ca } : {}),
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, toOutgoing(forwardableHeaders(upstreamRes.rawHeaders)));
        res.flushHeaders();
        upstreamRes.pipe(res);
        upstreamRes.once('error', () => res.destroy());
      },
    );
    upstreams.add(upstream);
    upstream.once('close', () => upstreams.delete(upstream));
    upstream.once('error', (error) => {
      errors.push(`${req.method} ${req.url}: ${error.message}`);
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`header shim: ${error.message}`);
      } else {
        res.destroy();
      }
    });
    // The runner gave up (closed a stream): close the upstream exchange too.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  shimHost = `127.0.0.1:${port}`;

  return {
    url: `http://${shimHost}${target.pathname}${target.search}`,
    get forwarded() {
      return forwarded;
    },
    errors,
    close: async () => {
      for (const upstream of upstreams) upstream.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The runner

export type ServerCheckStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED' | 'INFO';

/** One entry of a scenario's checks.json. */
export interface ServerCheck {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly status: ServerCheckStatus;
  readonly timestamp: string;
  readonly errorMessage?: string;
  readonly details?: Record<string, unknown>;
  readonly specReferences?: readonly { id: string; url: string }[];
}

/** One scenario as the runner reports it (`{ scenario, checks }`), plus its scoring. */
export interface ServerScenarioResult {
  readonly scenario: string;
  readonly checks: readonly ServerCheck[];
  /** Counts of SUCCESS / FAILURE / WARNING / SKIPPED checks. */
  readonly passed: number;
  readonly failed: number;
  readonly warnings: number;
  readonly skipped: number;
  /**
   * With `requirements`: false for what the set runs without scoring (see `notScoredReason`).
   * Without: always true.
   */
  readonly scored: boolean;
  /** `extension`, `pending` or `added-after-release`, when not scored. */
  readonly notScoredReason?: string;
}

export interface ServerConformanceOptions {
  /** The MCP endpoint under test (http or https). */
  readonly url: string;
  /** Artifact base name: `<artifactsDir>/<name>.json` and `<name>.log`. */
  readonly name: string;
  /** Default `test-results/conformance` under the repository root. */
  readonly artifactsDir?: string;
  /**
   * Added to every request via {@link startHeaderShim} (e.g. `{ Authorization: 'Bearer …' }`).
   * Values are never written to the artifacts, only the header names.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** PEM CA for an https `url` (which always goes through the shim). */
  readonly ca?: string;
  /** `--requirements`, e.g. `2026-07-28`; excludes `scenario`, `suite`, `specVersion`. */
  readonly requirements?: string;
  readonly scenario?: string;
  readonly suite?: 'active' | 'all' | 'draft' | 'pending';
  readonly specVersion?: string;
  /** `--timeout` per scenario (runner default 30 s). */
  readonly scenarioTimeoutMs?: number;
  /** Kill the runner after this long; default 180 s. */
  readonly timeoutMs?: number;
  /** Kills the runner when aborted. */
  readonly signal?: AbortSignal;
  /** Node >= 22 binary (default: {@link requireNode22}). */
  readonly nodePath?: string;
}

export interface ServerConformanceResult {
  /** The runner's exit code; `null` when killed (timeout/abort) or it failed to spawn. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly durationMs: number;
  readonly stdout: string;
  readonly stderr: string;
  /** In the order the runner ran them. */
  readonly scenarios: readonly ServerScenarioResult[];
  /** Totals over every scenario, and over the scored ones. */
  readonly totals: { readonly passed: number; readonly failed: number };
  readonly scoredTotals: { readonly passed: number; readonly failed: number };
  /** Requests the header shim forwarded (undefined when the runner talked to `url` directly). */
  readonly forwardedRequests?: number;
  readonly shimErrors?: readonly string[];
  /** The JSON artifact written. */
  readonly artifactPath: string;
}

const REPO_ROOT = join(import.meta.dirname, '../..');
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences are control characters
const ANSI = /\x1b\[[0-9;]*m/g;
const CHECKS_DIR = /^server-(.+)-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)$/;

interface SummaryLine {
  scenario: string;
  passed: number;
  failed: number;
}

function parseSummary(stdout: string): { lines: SummaryLine[]; notScored: Map<string, string> } {
  const clean = stdout.replace(ANSI, '');
  const lines: SummaryLine[] = [];
  const summaryAt = clean.lastIndexOf('=== SUMMARY ===');
  if (summaryAt >= 0) {
    for (const m of clean.slice(summaryAt).matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed$/gmu)) {
      lines.push({ scenario: m[1]!, passed: Number(m[2]), failed: Number(m[3]) });
    }
  }
  const notScored = new Map<string, string>();
  const notScoredAt = clean.search(/^Not scored for /m);
  if (notScoredAt >= 0) {
    for (const m of clean.slice(notScoredAt).matchAll(/^\s+[✓✗] (\S+) \(([^)]+)\)$/gmu))
      notScored.set(m[1]!, m[2]!);
  }
  return { lines, notScored };
}

async function readChecksDirs(outputDir: string): Promise<Map<string, ServerCheck[]>> {
  const byScenario = new Map<string, ServerCheck[]>();
  let entries: string[] = [];
  try {
    entries = (await readdir(outputDir)).sort();
  } catch {
    return byScenario;
  }
  for (const entry of entries) {
    const match = entry.match(CHECKS_DIR);
    if (!match) continue;
    try {
      const parsed = JSON.parse(await readFile(join(outputDir, entry, 'checks.json'), 'utf8')) as unknown;
      if (Array.isArray(parsed)) byScenario.set(match[1]!, parsed as ServerCheck[]);
    } catch {
      // Killed mid-scenario: a directory without checks.json.
    }
  }
  return byScenario;
}

function count(checks: readonly ServerCheck[], status: ServerCheckStatus): number {
  return checks.filter((c) => c.status === status).length;
}

/**
 * Runs `conformance server` under Node 22 against `url` (through a header shim when `headers` are
 * given or `url` is https), reads every scenario's checks.json, and writes `{ …run, results:
 * [{ scenario, checks }] }` to `<artifactsDir>/<name>.json` and the runner's output to `<name>.log`.
 * Never throws for a failing run: judge by `scenarios`/`scoredTotals`, not `exitCode` alone.
 */
export async function runServerConformance(
  options: ServerConformanceOptions,
): Promise<ServerConformanceResult> {
  const node = options.nodePath ?? requireNode22();
  const artifactsDir = options.artifactsDir ?? join(REPO_ROOT, 'test-results/conformance');
  const headers = options.headers ?? {};
  const useShim = Object.keys(headers).length > 0 || new URL(options.url).protocol === 'https:';
  const shim = useShim ? await startHeaderShim({ target: options.url, headers, ca: options.ca }) : undefined;
  const outputDir = await mkdtemp(join(tmpdir(), 'mcp-edge-conformance-server-'));
  const started = Date.now();

  try {
    const args = [conformanceCliPath(), 'server', '--url', shim?.url ?? options.url, '-o', outputDir];
    if (options.requirements !== undefined) args.push('--requirements', options.requirements);
    if (options.scenario !== undefined) args.push('--scenario', options.scenario);
    if (options.suite !== undefined) args.push('--suite', options.suite);
    if (options.specVersion !== undefined) args.push('--spec-version', options.specVersion);
    if (options.scenarioTimeoutMs !== undefined) args.push('--timeout', String(options.scenarioTimeoutMs));

    // NODE_OPTIONS is dropped: whatever loaders vitest or tsx put there are not for the runner.
    const { NODE_OPTIONS: _dropped, ...env } = process.env;
    const child = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const supervised = supervise(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', (error) => {
      stderr += `\n[conformance-server helper] spawn error: ${error.message}`;
    });

    let timedOut = false;
    let aborted = false;
    const timer = setTimeout(() => {
      timedOut = true;
      supervised.terminate();
    }, options.timeoutMs ?? 180_000);
    const onAbort = () => {
      aborted = true;
      supervised.terminate();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const { code, signal } = await supervised.exited;
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    const durationMs = Date.now() - started;

    const byScenario = await readChecksDirs(outputDir);
    const { lines, notScored } = parseSummary(stdout);
    const order = [...lines.map((l) => l.scenario), ...byScenario.keys()].filter(
      (s, i, all) => all.indexOf(s) === i,
    );
    const scenarios: ServerScenarioResult[] = order.map((scenario) => {
      let checks = byScenario.get(scenario);
      if (!checks) {
        // The scenario threw: the runner reports it only as a summary line.
        const line = lines.find((l) => l.scenario === scenario);
        checks = [
          {
            id: scenario,
            name: scenario,
            description: 'Failed to run scenario (no checks.json; see the log)',
            status: line && line.failed === 0 ? 'SUCCESS' : 'FAILURE',
            timestamp: new Date().toISOString(),
          },
        ];
      }
      const reason = notScored.get(scenario);
      return {
        scenario,
        checks,
        passed: count(checks, 'SUCCESS'),
        failed: count(checks, 'FAILURE'),
        warnings: count(checks, 'WARNING'),
        skipped: count(checks, 'SKIPPED'),
        scored: reason === undefined,
        ...(reason === undefined ? {} : { notScoredReason: reason }),
      };
    });
    const sum = (list: readonly ServerScenarioResult[]) => ({
      passed: list.reduce((n, s) => n + s.passed, 0),
      failed: list.reduce((n, s) => n + s.failed, 0),
    });

    await mkdir(artifactsDir, { recursive: true });
    const artifactPath = join(artifactsDir, `${options.name}.json`);
    const artifact = {
      name: options.name,
      url: options.url,
      via: shim ? 'header-shim' : 'direct',
      headerNames: Object.keys(headers),
      requirements: options.requirements,
      scenario: options.scenario,
      suite: options.suite,
      specVersion: options.specVersion,
      exitCode: code,
      signal,
      timedOut,
      aborted,
      durationMs,
      forwardedRequests: shim?.forwarded,
      totals: sum(scenarios),
      scoredTotals: sum(scenarios.filter((s) => s.scored)),
      results: scenarios.map((s) => ({
        scenario: s.scenario,
        scored: s.scored,
        notScoredReason: s.notScoredReason,
        checks: s.checks,
      })),
    };
    await writeFile(artifactPath, `${JSON.stringify(artifact, null, 2)}\n`);
    await writeFile(
      join(artifactsDir, `${options.name}.log`),
      `${stdout.replace(ANSI, '')}\n--- stderr\n${stderr}`,
    );

    return {
      exitCode: code,
      signal,
      timedOut,
      aborted,
      durationMs,
      stdout,
      stderr,
      scenarios,
      totals: artifact.totals,
      scoredTotals: artifact.scoredTotals,
      ...(shim ? { forwardedRequests: shim.forwarded, shimErrors: [...shim.errors] } : {}),
      artifactPath,
    };
  } finally {
    await shim?.close();
    await rm(outputDir, { recursive: true, force: true });
  }
}

export interface ConformanceDifference {
  readonly scenario: string;
  /** The check id, with `#<n>` for its n-th repetition within the scenario (ids repeat). */
  readonly check: string;
  /** `undefined`: the check (or scenario) is absent on that side. */
  readonly before?: ServerCheckStatus;
  readonly after?: ServerCheckStatus;
  readonly afterError?: string;
}

function keyedChecks(result: ServerConformanceResult): Map<string, Map<string, ServerCheck>> {
  const out = new Map<string, Map<string, ServerCheck>>();
  for (const s of result.scenarios) {
    const seen = new Map<string, number>();
    const checks = new Map<string, ServerCheck>();
    for (const check of s.checks) {
      const n = (seen.get(check.id) ?? 0) + 1;
      seen.set(check.id, n);
      checks.set(n === 1 ? check.id : `${check.id}#${n}`, check);
    }
    out.set(s.scenario, checks);
  }
  return out;
}

/**
 * Per-check status changes between two runs (e.g. direct vs. through the gateway), in `after`'s
 * scenario order; identical statuses are left out.
 */
export function diffConformance(
  before: ServerConformanceResult,
  after: ServerConformanceResult,
): ConformanceDifference[] {
  const a = keyedChecks(before);
  const b = keyedChecks(after);
  const scenarios = [...b.keys(), ...a.keys()].filter((s, i, all) => all.indexOf(s) === i);
  const diffs: ConformanceDifference[] = [];
  for (const scenario of scenarios) {
    const left = a.get(scenario) ?? new Map<string, ServerCheck>();
    const right = b.get(scenario) ?? new Map<string, ServerCheck>();
    for (const check of [...right.keys(), ...left.keys()].filter((c, i, all) => all.indexOf(c) === i)) {
      const l = left.get(check);
      const r = right.get(check);
      if (l?.status === r?.status) continue;
      diffs.push({
        scenario,
        check,
        ...(l ? { before: l.status } : {}),
        ...(r ? { after: r.status } : {}),
        ...(r?.errorMessage ? { afterError: r.errorMessage } : {}),
      });
    }
  }
  return diffs;
}
