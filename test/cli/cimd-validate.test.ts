import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as validate } from '../../cli/cimd-validate.ts';
import { createTlsFixture, type TestServer, type TlsFixture } from '../unit/http/https-fixture.ts';
import { captureIo } from './capture-io.ts';
import { BAD_DOCUMENTS, good, HOSTILE_URLS, ID } from './cases.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-validate-'));
let fileCount = 0;
function writeDoc(content: unknown): string {
  const file = join(dir, `doc-${++fileCount}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function validateArgs(args: string[]) {
  const io = captureIo();
  const code = await validate(args, io);
  return { code, io };
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mcp-edge cimd validate FILE', () => {
  it('accepts a good document with exit 0', async () => {
    const { code, io } = await validateArgs([writeDoc(good())]);
    expect(code).toBe(0);
    expect(io.stdout).toMatch(/^valid$/m);
  });

  it.each(BAD_DOCUMENTS)('refuses a document with %s: exit 1 naming %s', async (_what, doc, rule) => {
    const { code, io } = await validateArgs([writeDoc(doc)]);
    expect(code).toBe(1);
    expect(io.stdout).toContain(`error  ${rule}:`);
    expect(io.stdout).toMatch(/^invalid: \d+ errors?/m);
  });

  it('never echoes a client_secret value', async () => {
    const { io } = await validateArgs([writeDoc(good({ client_secret: 'hunter2-value' }))]);
    expect(io.output).not.toContain('hunter2-value');
  });

  it('prints each passed check with --verbose', async () => {
    const { code, io } = await validateArgs([writeDoc(good()), '--verbose']);
    expect(code).toBe(0);
    expect(io.stdout).toContain('ok     url.https_only:');
    expect(io.stdout).toContain('ok     doc.client_secret_forbidden:');
  });

  it('prints one JSON result with --json', async () => {
    const { code, io } = await validateArgs([writeDoc(good({ client_secret: 'x' })), '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(io.stdout);
    expect(report).toMatchObject({
      kind: 'file',
      valid: false,
      errors: [{ rule: 'doc.client_secret_forbidden' }],
    });
    expect(report.passed).toContain('doc.client_name_required');
    expect(report.passed).not.toContain('doc.client_secret_forbidden');
  });

  it('reports warnings and still exits 0', async () => {
    const { code, io } = await validateArgs([writeDoc(good({ client_id: `${ID}?v=2` }))]);
    expect(code).toBe(0);
    expect(io.stdout).toContain('warn   url.query:');
    expect(io.stdout).toMatch(/^valid \(1 warning\)$/m);
  });
});

describe('mcp-edge cimd validate URL (refused before fetching)', () => {
  it.each(HOSTILE_URLS)('refuses %j with exit 1 naming %s', async (url, rule) => {
    const { code, io } = await validateArgs([url]);
    expect(code).toBe(1);
    expect(io.stdout).toContain(`error  ${rule}:`);
  });
});

describe('mcp-edge cimd validate usage', () => {
  it.each([
    [[], 'missing the FILE or URL'],
    [['a.json', 'b.json'], 'exactly one'],
    [['--frobnicate', 'a.json'], 'unknown option --frobnicate'],
    [[join(dir, 'missing.json')], 'no such file'],
    [[dir], 'directory'],
    [['https://client.example.com/c.json', '--ca', join(dir, 'no-ca.pem')], 'cannot read --ca'],
  ])('exits 2 for %j', async (args, message) => {
    const { code, io } = await validateArgs(args);
    expect(code).toBe(2);
    expect(io.stderr).toContain(message);
    expect(io.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints help with exit 0', async () => {
    const { code, io } = await validateArgs(['--help']);
    expect(code).toBe(0);
    expect(io.stdout).toContain('--allow-private-network');
  });
});

describe('mcp-edge cimd validate URL (fetched from a local HTTPS server)', () => {
  let tls: TlsFixture;
  let server: TestServer;
  let caFile: string;
  const url = (path: string) => `https://127.0.0.1:${server.port}${path}`;

  beforeAll(async () => {
    tls = createTlsFixture();
    caFile = tls.certFile;
    server = await tls.start((req, res) => {
      const self = url(req.url ?? '/');
      if (req.url === '/.well-known/mcp-client-metadata.json') {
        res.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'public, max-age=3600, s-maxage=86400',
          etag: '"v1"',
          'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT',
        });
        res.end(JSON.stringify(good({ client_id: self })));
      } else if (req.url === '/other-id.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(good({ client_id: self.replace('127.0.0.1', 'localhost') })));
      } else if (req.url === '/moved.json') {
        res.writeHead(301, { location: 'https://elsewhere.example/c.json' });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });

  afterAll(async () => {
    await tls.stop();
  });

  it('validates the document and reports the caching headers', async () => {
    const { code, io } = await validateArgs([
      url('/.well-known/mcp-client-metadata.json'),
      '--allow-private-network',
      '--ca',
      caFile,
    ]);
    expect(io.stdout).toMatch(/^valid$/m);
    expect(code).toBe(0);
    expect(io.stdout).toContain('Cache-Control: public, max-age=3600, s-maxage=86400');
    expect(io.stdout).toContain('ETag: "v1"');
    expect(io.stdout).toContain('Last-Modified: Thu, 01 Jan 2026 00:00:00 GMT');
    expect(io.stdout).toContain('cache lifetime: 3600 s');
  });

  it('gives the caching headers and lifetime in --json', async () => {
    const { code, io } = await validateArgs([
      url('/.well-known/mcp-client-metadata.json'),
      '--allow-private-network',
      '--ca',
      caFile,
      '--json',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(io.stdout)).toMatchObject({
      kind: 'url',
      valid: true,
      caching: { cacheControl: 'public, max-age=3600, s-maxage=86400', etag: '"v1"' },
      cacheLifetimeSeconds: 3600,
    });
  });

  it('refuses the loopback address without --allow-private-network', async () => {
    const before = server.hits;
    const { code, io } = await validateArgs([url('/.well-known/mcp-client-metadata.json'), '--ca', caFile]);
    expect(code).toBe(1);
    expect(io.stdout).toContain('error  ssrf.private_address:');
    expect(server.hits).toBe(before);
  });

  it('refuses an untrusted certificate without --ca', async () => {
    const { code, io } = await validateArgs([
      url('/.well-known/mcp-client-metadata.json'),
      '--allow-private-network',
    ]);
    expect(code).toBe(1);
    expect(io.stdout).toContain('error  fetch.tls:');
  });

  it.each([
    ['/other-id.json', 'doc.client_id_mismatch'],
    ['/moved.json', 'fetch.redirect_refused'],
    ['/missing.json', 'fetch.status'],
  ])('refuses %s with %s', async (path, rule) => {
    const { code, io } = await validateArgs([url(path), '--allow-private-network', '--ca', caFile]);
    expect(code).toBe(1);
    expect(io.stdout).toContain(`error  ${rule}:`);
  });
});
