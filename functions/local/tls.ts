import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DevCertificate {
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** True when this call created the CA (first run). */
  readonly created: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error(
        'openssl is needed to create the development certificate; install it or pass --tls-cert/--tls-key',
      );
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

/** True while the certificate stays valid for at least another week. */
function stillValid(pem: string): boolean {
  try {
    return new Date(new X509Certificate(pem).validTo).getTime() > Date.now() + 7 * 86_400_000;
  } catch {
    return false;
  }
}

/**
 * A development CA and a certificate for localhost/127.0.0.1/::1 signed by it, created once
 * under `dir` (git-ignored `.local/tls` by default). Trust the CA in Node clients with
 * `NODE_EXTRA_CA_CERTS=<caPath>`. Keys never leave `dir` and are written with mode 0600.
 */
export async function ensureDevCertificate(directory: string): Promise<DevCertificate> {
  const dir = resolve(directory);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca-key.pem');
  const certPath = join(dir, 'localhost.pem');
  const keyPath = join(dir, 'localhost-key.pem');
  let created = false;

  if (!(await exists(caPath)) || !(await exists(caKeyPath)) || !stillValid(await readFile(caPath, 'utf8'))) {
    await openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        caKeyPath,
        '-out',
        caPath,
        '-days',
        '3650',
        '-subj',
        '/CN=MCP Edge local development CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    created = true;
  }
  if (
    created ||
    !(await exists(certPath)) ||
    !(await exists(keyPath)) ||
    !stillValid(await readFile(certPath, 'utf8'))
  ) {
    const extPath = join(dir, 'localhost.ext');
    await writeFile(
      extPath,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '',
      ].join('\n'),
    );
    const csrPath = join(dir, 'localhost.csr');
    await openssl(
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        csrPath,
        '-subj',
        '/CN=localhost',
      ],
      dir,
    );
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        csrPath,
        '-CA',
        caPath,
        '-CAkey',
        caKeyPath,
        '-CAcreateserial',
        '-out',
        certPath,
        '-days',
        '397',
        '-extfile',
        extPath,
      ],
      dir,
    );
  }
  const [ca, cert, key] = await Promise.all([
    readFile(caPath, 'utf8'),
    readFile(certPath, 'utf8'),
    readFile(keyPath, 'utf8'),
  ]);
  return { caPath, certPath, keyPath, ca, cert, key, created };
}

/**
 * The local gateway's vault key: 32 random bytes in a 0600 file, created on first run, so
 * connections survive a restart of `npm start`. Never used in AWS (KMS is).
 */
export async function localVaultKey(path: string): Promise<Uint8Array> {
  try {
    const key = await readFile(path);
    if (key.length === 32) return new Uint8Array(key);
  } catch {
    // first run
  }
  const key = randomBytes(32);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, key, { mode: 0o600 });
  return new Uint8Array(key);
}

/**
 * The local gateway's token-signing key (EC P-256, PKCS#8 PEM), created on first run and kept,
 * so MCP clients' tokens survive a restart like the vault does. User-only file.
 */
export async function localSigningKey(path: string): Promise<string> {
  try {
    const pem = await readFile(path, 'utf8');
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return pem;
  } catch {
    // first run, or not a P-256 key: make a new one
  }
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, pem, { mode: 0o600 });
  return pem;
}
