import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CIMD_USAGE, main, USAGE } from '../../bin/mcp-edge.ts';
import { USAGE as CREATE_USAGE } from '../../cli/cimd-create.ts';
import { USAGE as VALIDATE_USAGE } from '../../cli/cimd-validate.ts';
import { USAGE as CLIENT_USAGE } from '../../cli/client.ts';
import { USAGE as DEV_USAGE } from '../../cli/dev.ts';
import { USAGE as ROUTES_USAGE } from '../../cli/routes.ts';
import { captureIo } from './capture-io.ts';
import { good } from './cases.ts';

/**
 * The CLI's surface as a person meets it through `main` (what bin/mcp-edge.ts runs): help on every
 * command and group, the short forms the seed's `fastmcp cimd` commands use (`-o`, `-v`, `-h`), and
 * the same refusal (exit 2, stderr) for anything unknown.
 */
const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-help-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  const io = captureIo();
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const HELP_PAGES: [string, string[], string][] = [
  ['mcp-edge', [], USAGE],
  ['mcp-edge cimd', ['cimd'], CIMD_USAGE],
  ['mcp-edge cimd create', ['cimd', 'create'], CREATE_USAGE],
  ['mcp-edge cimd validate', ['cimd', 'validate'], VALIDATE_USAGE],
  ['mcp-edge routes', ['routes'], ROUTES_USAGE],
  ['mcp-edge client', ['client'], CLIENT_USAGE],
  ['mcp-edge dev', ['dev'], DEV_USAGE],
];

describe('mcp-edge --help', () => {
  it.each(HELP_PAGES)('%s --help prints its usage to stdout and exits 0', async (_name, words, usage) => {
    expect(await cli(...words, '--help')).toEqual({ code: 0, stdout: `${usage}\n`, stderr: '' });
  });

  it.each(HELP_PAGES)('%s -h is --help', async (_name, words, usage) => {
    expect(await cli(...words, '-h')).toEqual({ code: 0, stdout: `${usage}\n`, stderr: '' });
  });

  it.each(HELP_PAGES)('mcp-edge help %s is the same page', async (_name, words, usage) => {
    expect(await cli('help', ...words)).toEqual({ code: 0, stdout: `${usage}\n`, stderr: '' });
  });

  it.each(HELP_PAGES.slice(2))(
    '%s --help wins over other arguments, even wrong ones (nothing runs)',
    async (_name, words, usage) => {
      expect(await cli(...words, '--no-such-option', 'extra', '-h')).toEqual({
        code: 0,
        stdout: `${usage}\n`,
        stderr: '',
      });
    },
  );

  it('every page starts with its synopsis and lists -h, --help', () => {
    for (const [name, , usage] of HELP_PAGES) {
      expect(usage.startsWith(`usage: ${name} `)).toBe(true);
      expect(usage).toMatch(/^ {2}-h, --help +show this help$/m);
    }
  });

  it('after "--", -h is an argument, not a request for help', async () => {
    const result = await cli('cimd', 'validate', '--', '-h');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot read -h');
  });
});

describe('mcp-edge refuses what it does not know (exit 2, stderr)', () => {
  it.each([
    ['no command', [], 'no command given'],
    ['an unknown command', ['deploy'], 'unknown command "deploy"'],
    ['an unknown option before the command', ['--verbose'], 'unknown option --verbose'],
    ['cimd without a command', ['cimd'], 'cimd needs a command'],
    ['an unknown cimd command', ['cimd', 'sign'], 'unknown cimd command "sign"'],
    ['an option where the cimd command goes', ['cimd', '--json'], 'unknown cimd option "--json"'],
    ['help for an unknown command', ['help', 'deploy'], 'unknown command "deploy"'],
  ])('%s', async (_what, argv, message) => {
    const result = await cli(...argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
  });

  it.each(HELP_PAGES.slice(2))(
    '%s --no-such-option names the option and where the help is',
    async (name, words) => {
      const result = await cli(...words, '--no-such-option');
      expect(result).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toContain(`${name}: unknown option --no-such-option\n`);
      expect(result.stderr).toContain(`Run "${name} --help" for the options.`);
    },
  );

  it.each(HELP_PAGES.slice(2))(
    '%s -x (an unknown short form) is refused the same way',
    async (name, words) => {
      const result = await cli(...words, '-x');
      expect(result).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toContain(`${name}: unknown option -x\n`);
    },
  );

  it('mcp-edge dev refuses a stray argument and contradicting flags before starting anything', async () => {
    const stray = await cli('dev', 'now');
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('unexpected argument "now"');
    const both = await cli('dev', '--demo', '--no-demo');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--demo and --no-demo exclude each other');
    const half = await cli('dev', '--tls-cert', 'cert.pem');
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--tls-cert and --tls-key go together');
  });
});

describe("the seed's short forms work as their long forms", () => {
  const file = join(dir, 'cimd.json');
  writeFileSync(file, JSON.stringify(good()));

  it('cimd validate FILE -v prints what --verbose prints', async () => {
    const long = await cli('cimd', 'validate', file, '--verbose');
    expect(long.code).toBe(0);
    expect(long.stdout).toContain('ok     url.https_only:');
    expect(await cli('cimd', 'validate', file, '-v')).toEqual(long);
    expect(await cli('cimd', 'validate', '-v', file)).toEqual(long);
    expect(await cli('cimd', 'validate', '-v', '--json', file)).toEqual(
      await cli('cimd', 'validate', '--verbose', '--json', file),
    );
  });

  it('cimd validate FILE without -v leaves the passed checks out', async () => {
    const plain = await cli('cimd', 'validate', file);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain('ok     ');
  });

  it("cimd create ... -o FILE writes what --output FILE writes (the seed's create command)", async () => {
    const args = [
      'cimd',
      'create',
      '--name',
      'My Application',
      '--redirect-uri',
      'http://localhost:8080/callback',
      '--redirect-uri',
      'http://localhost:3000/callback',
      '--client-uri',
      'https://myapp.com',
      '--contact',
      'admin@myapp.com',
    ];
    const short = join(dir, 'short.json');
    const long = join(dir, 'long.json');
    const viaShort = await cli(...args, '-o', short);
    const viaLong = await cli(...args, '--output', long);
    expect(viaShort.code).toBe(0);
    expect(viaLong.code).toBe(0);
    expect(viaShort.stdout).toBe('');
    expect(readFileSync(short, 'utf8')).toBe(readFileSync(long, 'utf8'));
    expect(JSON.parse(readFileSync(short, 'utf8'))).toMatchObject({
      client_name: 'My Application',
      redirect_uris: ['http://localhost:8080/callback', 'http://localhost:3000/callback'],
      contacts: ['admin@myapp.com'],
    });
    const validated = await cli('cimd', 'validate', short, '-v');
    expect(validated.code).toBe(0);
    expect(validated.stdout).toContain('warn   doc.client_id_placeholder:');
  });

  it('-o without a value is a usage error naming the option', async () => {
    const result = await cli('cimd', 'create', '--name', 'x', '--redirect-uri', 'https://a.example/cb', '-o');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Option '-o, --output <value>' argument missing");
  });
});
