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
  /** True when this call created the CA (first run, or the one found was replaced). */
  readonly created: boolean;
}

/** How long the development CA and its localhost certificate live. */
export const DEV_CERTIFICATE_DAYS = 30;
/** Both are made anew once less than this is left, so a running gateway never sees them expire. */
const RENEW_BEFORE_MS = 7 * 86_400_000;

/**
 * The names the development CA may vouch for (RFC 5280 §4.2.1.10), as a critical extension so
 * every verifier must honour it: a copy of its key, which sits in a file on the developer's
 * machine, cannot mint a certificate a browser that trusts the CA would accept for any real site.
 * `DNS:localhost` also covers `*.localhost`; the addresses are exactly 127.0.0.1 and ::1.
 */
const NAME_CONSTRAINTS =
  'nameConstraints=critical,permitted;DNS:localhost,permitted;IP:127.0.0.1/255.255.255.255,permitted;IP:::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
/** How `openssl x509 -ext nameConstraints` prints {@link NAME_CONSTRAINTS}, whitespace removed. */
const NAME_CONSTRAINTS_TEXT =
  'X509v3NameConstraints:criticalPermitted:DNS:localhostIP:127.0.0.1/255.255.255.255IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function openssl(args: string[], cwd: string): Promise<string> {
  try {
    return (await run('openssl', args, { cwd })).stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error(
        'openssl is needed to create the development certificate; install it or pass --tls-cert/--tls-key',
      );
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

async function readCertificate(path: string): Promise<X509Certificate | undefined> {
  try {
    return new X509Certificate(await readFile(path));
  } catch {
    return undefined;
  }
}

/** True while the certificate stays valid for at least another {@link RENEW_BEFORE_MS}. */
function lastsLongEnough(certificate: X509Certificate): boolean {
  return new Date(certificate.validTo).getTime() > Date.now() + RENEW_BEFORE_MS;
}

/**
 * A CA worth keeping: not near its end, no longer-lived than {@link DEV_CERTIFICATE_DAYS} (a CA
 * from before the short life is replaced), and limited by {@link NAME_CONSTRAINTS}.
 */
async function usableCa(caPath: string, caKeyPath: string, dir: string): Promise<boolean> {
  if (!(await exists(caKeyPath))) return false;
  const ca = await readCertificate(caPath);
  if (!ca?.ca || !lastsLongEnough(ca)) return false;
  const lifetime = new Date(ca.validTo).getTime() - new Date(ca.validFrom).getTime();
  if (lifetime > (DEV_CERTIFICATE_DAYS + 1) * 86_400_000) return false;
  const text = await openssl(['x509', '-in', caPath, '-noout', '-ext', 'nameConstraints'], dir).catch(
    () => '',
  );
  return text.replace(/\s+/g, '') === NAME_CONSTRAINTS_TEXT;
}

/** The localhost certificate is kept while it lasts and was signed by the CA in use. */
async function usableLeaf(certPath: string, keyPath: string, ca: X509Certificate): Promise<boolean> {
  if (!(await exists(keyPath))) return false;
  const leaf = await readCertificate(certPath);
  return Boolean(leaf && lastsLongEnough(leaf) && leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
}

/**
 * A development CA and a certificate for localhost/127.0.0.1/::1 signed by it, kept under `dir`
 * (git-ignored `.local/tls` by default) across runs. Trust the CA in Node clients with
 * `NODE_EXTRA_CA_CERTS=<caPath>`. Keys never leave `dir` and are written with mode 0600.
 *
 * The CA can only vouch for localhost, 127.0.0.1 and ::1 (critical name constraints) and lives
 * {@link DEV_CERTIFICATE_DAYS} days; it is made anew a week before it ends, or when the one found
 * lacks the constraints or lives longer (older versions made a ten-year CA without them), and
 * `created` then tells the caller that people must trust the new one.
 */
export async function ensureDevCertificate(directory: string): Promise<DevCertificate> {
  const dir = resolve(directory);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca-key.pem');
  const certPath = join(dir, 'localhost.pem');
  const keyPath = join(dir, 'localhost-key.pem');
  const days = String(DEV_CERTIFICATE_DAYS);
  let created = false;

  if (!(await usableCa(caPath, caKeyPath, dir))) {
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
        days,
        '-subj',
        `/CN=MCP Edge local development CA (localhost only) ${randomBytes(4).toString('hex')}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-addext',
        NAME_CONSTRAINTS,
      ],
      dir,
    );
    created = true;
  }
  const ca = new X509Certificate(await readFile(caPath));
  if (created || !(await usableLeaf(certPath, keyPath, ca))) {
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
        days,
        '-extfile',
        extPath,
      ],
      dir,
    );
  }
  const [caPem, cert, key] = await Promise.all([
    readFile(caPath, 'utf8'),
    readFile(certPath, 'utf8'),
    readFile(keyPath, 'utf8'),
  ]);
  return { caPath, certPath, keyPath, ca: caPem, cert, key, created };
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
