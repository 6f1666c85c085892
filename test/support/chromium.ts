import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { type Browser, chromium, type LaunchOptions } from 'playwright-core';

/** Debian's Chromium; CI installs it (`apt-get install chromium`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags for a quiet, headless Chromium in a container: no sandbox (we run as root without user
 * namespaces), no GPU, no QUIC, and nothing that phones home. Host resolution is pinned to
 * loopback, so a page that pulls in a remote resource (oidc-provider's development forms import a
 * web font) fails fast instead of reaching the network.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

/**
 * The base64 SHA-256 of a certificate's SubjectPublicKeyInfo: what Chromium's
 * `--ignore-certificate-errors-spki-list` takes to trust exactly that certificate's key (the
 * development certificate), rather than ignoring every certificate error.
 */
export function spkiHash(certificatePem: string): string {
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Launch options for {@link CHROMIUM_PATH}; `trust` is a PEM certificate the browser accepts. */
export function chromiumLaunchOptions(trust?: { readonly cert: string }): LaunchOptions {
  return {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      ...CHROMIUM_ARGS,
      ...(trust ? [`--ignore-certificate-errors-spki-list=${spkiHash(trust.cert)}`] : []),
    ],
  };
}

/**
 * Starts Chromium, or fails with a message saying what is missing: browser tests must not pass
 * by skipping on a machine without the browser.
 */
export async function launchChromium(trust?: { readonly cert: string }): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}; the browser tests need it (apt-get install chromium).`,
    );
  }
  return chromium.launch(chromiumLaunchOptions(trust));
}
