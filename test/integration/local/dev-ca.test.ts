import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEV_CERTIFICATE_DAYS,
  type DevCertificate,
  ensureDevCertificate,
} from '../../../functions/local/tls.ts';

/**
 * The local gateway's development CA (functions/local/tls.ts): limited by critical name constraints
 * to localhost, 127.0.0.1 and ::1, short-lived, and replaced when the one on disk is not that.
 * Checked with the verifiers that matter: `openssl verify` and Node's TLS client.
 */
const run = promisify(execFile);
const DAY_MS = 86_400_000;
let root: string;
let dir: string;
let dev: DevCertificate;

async function openssl(args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('openssl', args, { cwd });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** A server certificate for `subjectAltName`, signed with the given CA's key; returns its paths. */
async function signLeaf(
  where: string,
  name: string,
  subjectAltName: string,
  ca: { cert: string; key: string },
): Promise<{ cert: string; key: string }> {
  const cert = join(where, `${name}.pem`);
  const key = join(where, `${name}-key.pem`);
  const ext = join(where, `${name}.ext`);
  await writeFile(ext, `basicConstraints=critical,CA:FALSE\nsubjectAltName=${subjectAltName}\n`);
  const csr = join(where, `${name}.csr`);
  const steps = [
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ['-keyout', key, '-out', csr, '-subj', `/CN=${name}`],
  ].flat();
  expect((await openssl(steps, where)).ok).toBe(true);
  const sign = ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial'];
  const signed = await openssl([...sign, '-out', cert, '-days', '1', '-extfile', ext], where);
  expect(signed.ok).toBe(true);
  return { cert, key };
}

/** An old-style CA: ten years, no name constraints (what versions before this one made). */
async function unconstrainedCa(where: string, days = 3650): Promise<{ cert: string; key: string }> {
  const cert = join(where, 'ca.pem');
  const key = join(where, 'ca-key.pem');
  const made = await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      String(days),
      '-subj',
      '/CN=unconstrained test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    where,
  );
  expect(made.ok).toBe(true);
  return { cert, key };
}

/** What Node's TLS client says about a server presenting `leaf`, trusting only `ca`. */
async function nodeTlsVerdict(leaf: { cert: string; key: string }, ca: string, servername: string) {
  const server = createServer({ cert: await readFile(leaf.cert), key: await readFile(leaf.key) }, (_q, s) =>
    s.end(),
  );
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  try {
    return await new Promise<string>((done) => {
      const socket = connect({
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        servername,
        ca,
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        done('trusted');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => done(`${error.code}: ${error.message}`));
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((closed) => server.close(() => closed()));
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcp-edge-dev-ca-'));
  dir = join(root, 'tls');
  dev = await ensureDevCertificate(dir);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the development CA', () => {
  it('carries critical name constraints permitting only localhost, 127.0.0.1/32 and ::1/128', async () => {
    const { ok, output } = await openssl(
      ['x509', '-in', dev.caPath, '-noout', '-ext', 'nameConstraints'],
      dir,
    );
    expect(ok).toBe(true);
    const lines = output
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    expect(lines).toEqual([
      'X509v3 Name Constraints: critical',
      'Permitted:',
      'DNS:localhost',
      'IP:127.0.0.1/255.255.255.255',
      'IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF',
    ]);
  });

  it(`lives ${DEV_CERTIFICATE_DAYS} days, and so does the localhost certificate`, () => {
    for (const pem of [dev.ca, dev.cert]) {
      const certificate = new X509Certificate(pem);
      const lifetime = Date.parse(certificate.validTo) - Date.parse(certificate.validFrom);
      expect(lifetime).toBe(DEV_CERTIFICATE_DAYS * DAY_MS);
      expect(Date.parse(certificate.validFrom)).toBeLessThanOrEqual(Date.now());
    }
    expect(DEV_CERTIFICATE_DAYS).toBeLessThanOrEqual(30);
    expect(new X509Certificate(dev.ca).ca).toBe(true);
  });

  it('vouches for its localhost certificate (openssl verify, and Node TLS by name and by address)', async () => {
    const verified = await openssl(['verify', '-CAfile', dev.caPath, dev.certPath], dir);
    expect(verified).toMatchObject({ ok: true });
    const leaf = { cert: dev.certPath, key: dev.keyPath };
    expect(await nodeTlsVerdict(leaf, dev.ca, 'localhost')).toBe('trusted');
  });

  it.each([
    ['example.com', 'DNS:example.com'],
    ['a name that only starts with localhost', 'DNS:localhost.example.com'],
    ['another loopback address', 'IP:127.0.0.2'],
    ['a private address', 'IP:10.0.0.1'],
    ['localhost plus a foreign name', 'DNS:localhost,DNS:bank.example'],
  ])('cannot vouch for %s: openssl verify refuses it (permitted subtree violation)', async (_what, san) => {
    const name = `leaf-${san.replace(/[^a-z0-9]/gi, '-')}`;
    const leaf = await signLeaf(root, name, san, { cert: dev.caPath, key: join(dir, 'ca-key.pem') });
    const verified = await openssl(['verify', '-CAfile', dev.caPath, leaf.cert], root);
    expect(verified.ok).toBe(false);
    expect(verified.output).toContain('permitted subtree violation');
  });

  it('cannot vouch for example.com in Node TLS either, though the same leaf from an unconstrained CA passes', async () => {
    const constrained = await signLeaf(root, 'node-example', 'DNS:example.com', {
      cert: dev.caPath,
      key: join(dir, 'ca-key.pem'),
    });
    // Node has no code of its own for X509_V_ERR_PERMITTED_VIOLATION (it says UNSPECIFIED);
    // OpenSSL's fixed reason string for that error is what identifies it.
    expect(await nodeTlsVerdict(constrained, dev.ca, 'example.com')).toBe(
      'UNSPECIFIED: permitted subtree violation',
    );

    // The control: without the constraint the very same kind of leaf is trusted, so the refusal
    // above comes from the name constraints and nothing else.
    const plainDir = await mkdtemp(join(root, 'plain-'));
    const plainCa = await unconstrainedCa(plainDir);
    const plain = await signLeaf(plainDir, 'node-example', 'DNS:example.com', plainCa);
    expect(await nodeTlsVerdict(plain, await readFile(plainCa.cert, 'utf8'), 'example.com')).toBe('trusted');
    expect((await openssl(['verify', '-CAfile', plainCa.cert, plain.cert], plainDir)).ok).toBe(true);
  });

  it('still vouches for a *.localhost name (DNS:localhost covers its subdomains)', async () => {
    const leaf = await signLeaf(root, 'sub-localhost', 'DNS:app.localhost', {
      cert: dev.caPath,
      key: join(dir, 'ca-key.pem'),
    });
    expect((await openssl(['verify', '-CAfile', dev.caPath, leaf.cert], root)).ok).toBe(true);
  });
});

describe('ensureDevCertificate across runs', () => {
  it('reuses a CA that is constrained and far from its end', async () => {
    const again = await ensureDevCertificate(dir);
    expect(again.created).toBe(false);
    expect(again.ca).toBe(dev.ca);
    expect(again.cert).toBe(dev.cert);
  });

  it('replaces an old ten-year CA without name constraints, and its certificate', async () => {
    const old = await mkdtemp(join(root, 'old-'));
    const oldCa = await unconstrainedCa(old);
    const oldPem = await readFile(oldCa.cert, 'utf8');
    const replaced = await ensureDevCertificate(old);
    expect(replaced.created).toBe(true);
    expect(replaced.ca).not.toBe(oldPem);
    const text = await openssl(['x509', '-in', replaced.caPath, '-noout', '-ext', 'nameConstraints'], old);
    expect(text.output).toContain('DNS:localhost');
    expect((await openssl(['verify', '-CAfile', replaced.caPath, replaced.certPath], old)).ok).toBe(true);
  });

  it('replaces a CA that ends within a week', async () => {
    const ending = await mkdtemp(join(root, 'ending-'));
    await unconstrainedCa(ending, 3);
    const replaced = await ensureDevCertificate(ending);
    expect(replaced.created).toBe(true);
    expect(Date.parse(new X509Certificate(replaced.ca).validTo)).toBeGreaterThan(Date.now() + 20 * DAY_MS);
  });

  it('makes a new localhost certificate when the one found was not signed by the CA in use', async () => {
    const mixed = await mkdtemp(join(root, 'mixed-'));
    const first = await ensureDevCertificate(mixed);
    const other = await mkdtemp(join(root, 'other-'));
    const otherDev = await ensureDevCertificate(other);
    await writeFile(first.certPath, otherDev.cert);
    await writeFile(first.keyPath, otherDev.key);
    const again = await ensureDevCertificate(mixed);
    expect(again.created).toBe(false);
    expect(again.ca).toBe(first.ca);
    expect(again.cert).not.toBe(otherDev.cert);
    expect((await openssl(['verify', '-CAfile', again.caPath, again.certPath], mixed)).ok).toBe(true);
  });
});
