import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as create } from '../../cli/cimd-create.ts';
import { run as validate } from '../../cli/cimd-validate.ts';
import { PLACEHOLDER_CLIENT_ID } from '../../functions/core/cimd/validate.ts';
import { captureIo } from './capture-io.ts';

const ID = 'https://client.example.com/oauth/client.json';
const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-create-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function createDoc(args: string[]) {
  const io = captureIo();
  const code = await create(args, io);
  return {
    code,
    io,
    doc: code === 0 && io.stdout ? (JSON.parse(io.stdout) as Record<string, unknown>) : undefined,
  };
}

describe('mcp-edge cimd create', () => {
  it('writes a document with the defaults', async () => {
    const { code, doc, io } = await createDoc([
      '--name',
      'My Agent',
      '--redirect-uri',
      'http://127.0.0.1:8765/cb',
      '--client-id',
      ID,
    ]);
    expect(code).toBe(0);
    expect(doc).toEqual({
      client_id: ID,
      client_name: 'My Agent',
      redirect_uris: ['http://127.0.0.1:8765/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    expect(io.stderr).toBe('');
    expect(io.stdout).toContain('\n  "client_name": "My Agent",\n');
  });

  it('takes every optional field', async () => {
    const { code, doc } = await createDoc([
      '--name',
      'My Agent',
      '--redirect-uri',
      'https://client.example.com/cb',
      '--redirect-uri',
      'http://localhost:3000/cb',
      '--client-id',
      ID,
      '--client-uri',
      'https://client.example.com',
      '--logo-uri',
      'https://client.example.com/logo.png',
      '--tos-uri',
      'https://client.example.com/tos',
      '--policy-uri',
      'https://client.example.com/privacy',
      '--jwks-uri',
      'https://client.example.com/jwks.json',
      '--contact',
      'ops@client.example.com',
      '--contact',
      'sec@client.example.com',
      '--scope',
      'mcp:read mcp:write',
      '--token-endpoint-auth-method',
      'private_key_jwt',
      '--grant-type',
      'authorization_code',
    ]);
    expect(code).toBe(0);
    expect(doc).toMatchObject({
      redirect_uris: ['https://client.example.com/cb', 'http://localhost:3000/cb'],
      client_uri: 'https://client.example.com',
      logo_uri: 'https://client.example.com/logo.png',
      tos_uri: 'https://client.example.com/tos',
      policy_uri: 'https://client.example.com/privacy',
      jwks_uri: 'https://client.example.com/jwks.json',
      contacts: ['ops@client.example.com', 'sec@client.example.com'],
      scope: 'mcp:read mcp:write',
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['authorization_code'],
    });
  });

  it('writes an obvious placeholder client_id and warns when --client-id is missing', async () => {
    const { code, doc, io } = await createDoc(['--name', 'A', '--redirect-uri', 'https://a.example/cb']);
    expect(code).toBe(0);
    expect(doc?.client_id).toBe(PLACEHOLDER_CLIENT_ID);
    expect(io.stderr).toMatch(/warning: no --client-id given/);
  });

  it('warns about private_key_jwt without keys', async () => {
    const { code, io } = await createDoc([
      '--name',
      'A',
      '--redirect-uri',
      'https://a.example/cb',
      '--client-id',
      ID,
      '--token-endpoint-auth-method',
      'private_key_jwt',
    ]);
    expect(code).toBe(0);
    expect(io.stderr).toContain('doc.private_key_jwt_without_keys');
  });

  it.each([
    [[], '--name is required'],
    [['--name', 'A'], '--redirect-uri is required'],
    [['--name', '  ', '--redirect-uri', 'https://a.example/cb'], '--name is required'],
    [['--name', 'A', '--redirect-uri', 'not a url'], 'must be an absolute URL'],
    [['--name', 'A', '--redirect-uri', 'http://a.example/cb'], 'must be https'],
    [['--name', 'A', '--redirect-uri', 'https://a.example/cb#x'], 'fragment'],
    [
      ['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--client-id', 'http://a.example/c.json'],
      'url.https_only',
    ],
    [
      ['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--client-id', 'https://a.example/'],
      'url.path_required',
    ],
    [
      ['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--client-uri', 'http://a.example'],
      '--client-uri',
    ],
    [['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--logo-uri', 'logo.png'], '--logo-uri'],
    [['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--contact', 'not-an-email'], '--contact'],
    [
      [
        '--name',
        'A',
        '--redirect-uri',
        'https://a.example/cb',
        '--token-endpoint-auth-method',
        'client_secret_basic',
      ],
      '--token-endpoint-auth-method',
    ],
    [['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--scope', 'a  b'], '--scope'],
    [['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--grant-type', 'bad grant'], '--grant-type'],
    [['--name', 'A', '--redirect-uri', 'https://a.example/cb', '--colour', 'red'], 'unknown option --colour'],
    [['--name', 'A', '--redirect-uri', 'https://a.example/cb', 'stray'], 'unexpected argument'],
    [['--name'], 'argument missing'],
  ])('refuses %j with exit 2', async (args, message) => {
    const io = captureIo();
    expect(await create(args, io)).toBe(2);
    expect(io.stderr).toContain(message);
    expect(io.stdout).toBe('');
    expect(io.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints help with exit 0', async () => {
    const io = captureIo();
    expect(await create(['--help'], io)).toBe(0);
    expect(io.stdout).toContain('--redirect-uri');
  });

  it('writes to -o FILE, and cimd validate accepts the result', async () => {
    const file = join(dir, 'client.json');
    const io = captureIo();
    const code = await create(
      [
        '--name',
        'Round Trip',
        '--redirect-uri',
        'https://client.example.com/cb',
        '--client-id',
        ID,
        '-o',
        file,
      ],
      io,
    );
    expect(code).toBe(0);
    expect(io.stdout).toBe('');
    expect(io.stderr).toContain(`wrote ${file}`);
    expect(JSON.parse(readFileSync(file, 'utf8')).client_name).toBe('Round Trip');
    const check = captureIo();
    expect(await validate([file], check)).toBe(0);
    expect(check.stdout).toMatch(/^valid$/m);
  });

  it('writes a placeholder document that validates with only the placeholder warning', async () => {
    const file = join(dir, 'placeholder.json');
    expect(
      await create(['--name', 'P', '--redirect-uri', 'https://p.example/cb', '-o', file], captureIo()),
    ).toBe(0);
    const check = captureIo();
    expect(await validate([file, '--json'], check)).toBe(0);
    const report = JSON.parse(check.stdout);
    expect(report.warnings.map((w: { rule: string }) => w.rule)).toEqual(['doc.client_id_placeholder']);
  });

  it('exits 1 when the output file cannot be written', async () => {
    const io = captureIo();
    const args = [
      '--name',
      'A',
      '--redirect-uri',
      'https://a.example/cb',
      '--client-id',
      ID,
      '-o',
      join(dir, 'no/such/dir.json'),
    ];
    expect(await create(args, io)).toBe(1);
    expect(io.stderr).toContain('could not write');
  });
});
