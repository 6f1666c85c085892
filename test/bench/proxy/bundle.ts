import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { median } from '../stats.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

/** lib/gateway-function.ts `ESM_REQUIRE_BANNER` (not exported); {@link bundleOptionsDrift} checks it still is. */
const BANNER =
  "import { createRequire as __mcpEdgeCreateRequire } from 'node:module'; const require = __mcpEdgeCreateRequire(import.meta.url);";

/**
 * What NodejsFunction runs for a gateway function (lib/gateway-function.ts `bundling`, flags as
 * aws-cdk-lib's Bundling builds them): `--bundle --target=node24 --platform=node --format=esm
 * --minify --sourcemap --sources-content=false --main-fields=module,main --banner:js=…`, no externals.
 */
async function bundle(entry: string, outDir: string): Promise<{ file: string; metafile: Metafile }> {
  const file = join(outDir, 'index.mjs');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    target: 'node24',
    platform: 'node',
    format: 'esm',
    outfile: file,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    banner: { js: BANNER },
    metafile: true,
    absWorkingDir: ROOT,
    logLevel: 'error',
  });
  return { file, metafile: result.metafile };
}

/** Problems if lib/gateway-function.ts no longer bundles the way this bench does (empty when it does). */
export async function bundleOptionsDrift(): Promise<string[]> {
  const source = await readFile(join(ROOT, 'lib/gateway-function.ts'), 'utf8');
  const expected = [
    BANNER,
    'format: OutputFormat.ESM',
    "target: 'node24'",
    'minify: true',
    'sourceMap: true',
    'sourcesContent: false',
    "mainFields: ['module', 'main']",
    'externalModules: []',
  ];
  return expected.filter((text) => !source.includes(text)).map((text) => `not found: ${text}`);
}

/** Who a bundled input belongs to: its npm package, or the project folder it sits in. */
function ownerOf(path: string): string {
  const match = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (match) return match[1]!;
  return `(project) ${path.split('/').slice(0, 3).join('/')}`;
}

export interface BundleFigures {
  readonly bytes: number;
  readonly top: { owner: string; bytes: number }[];
  /** `@aws-sdk/*`, `@smithy/*`, `@aws-crypto/*` together. */
  readonly awsSdkBytes: number;
}

/** The proxy function's bundle as deployed: its size and its largest contributors. */
export async function proxyBundle(outDir: string): Promise<BundleFigures> {
  const { file, metafile } = await bundle(join(ROOT, 'functions/proxy/handler.ts'), outDir);
  const output = Object.entries(metafile.outputs).find(([name]) => name.endsWith('index.mjs'))![1];
  const byOwner = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const owner = ownerOf(path);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + bytesInOutput);
  }
  const top = [...byOwner]
    .map(([owner, bytes]) => ({ owner, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 8);
  const awsSdkBytes = [...byOwner]
    .filter(([owner]) => /^@(aws-sdk|smithy|aws-crypto)\//.test(owner))
    .reduce((sum, [, bytes]) => sum + bytes, 0);
  return { bytes: (await stat(file)).size, top, awsSdkBytes };
}

const run = promisify(execFile);

/** Wall and CPU time of one module initialisation, ms. */
export interface InitTime {
  readonly wall: number;
  /** User + system CPU of the process while importing: less sensitive to a busy machine. */
  readonly cpu: number;
}

/**
 * Module initialisation of the proxy's code: {@link init-entry.ts} bundled like the handler, then
 * `import()`ed in a fresh `node` process, `runs` times each without and with `--enable-source-maps`
 * (which the deployed functions run with, NODE_OPTIONS), interleaved; medians.
 */
export async function moduleInit(
  outDir: string,
  runs: number,
): Promise<{ plain: InitTime; sourceMaps: InitTime }> {
  const { file } = await bundle(join(import.meta.dirname, 'init-entry.ts'), outDir);
  const script =
    'const c = process.cpuUsage(); const t = performance.now(); await import(process.env.BENCH_ENTRY); ' +
    'const u = process.cpuUsage(c); process.stdout.write(JSON.stringify({ wall: performance.now() - t, cpu: (u.user + u.system) / 1000 }));';
  const time = async (flags: string[]): Promise<InitTime> => {
    const { stdout } = await run(process.execPath, [...flags, '--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH, BENCH_ENTRY: pathToFileURL(file).href },
    });
    return JSON.parse(stdout) as InitTime;
  };
  const plain: InitTime[] = [];
  const sourceMaps: InitTime[] = [];
  for (let i = 0; i < runs; i++) {
    plain.push(await time([]));
    sourceMaps.push(await time(['--enable-source-maps']));
  }
  const medians = (times: InitTime[]) => ({
    wall: median(times.map((t) => t.wall)),
    cpu: median(times.map((t) => t.cpu)),
  });
  return { plain: medians(plain), sourceMaps: medians(sourceMaps) };
}
