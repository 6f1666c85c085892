import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../functions/local/ports.ts';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { conformanceRedirectUri, startConformance } from '../support/conformance.ts';

/**
 * The outside judge: `@modelcontextprotocol/conformance@0.2.0-alpha.12 authorization` (on Node 22)
 * against route A of the local gateway. Its CIMD client lists the runner's loopback callback; the
 * test drives the printed authorize URL through sign-in, the chained upstream connect and consent,
 * then lets the runner receive the code and redeem it itself.
 */
describe('the MCP conformance suite judges a route’s authorization server', () => {
  let fx: AuthorizationFixture;

  beforeAll(async () => {
    fx = await startAuthorizationFixture();
  });

  afterAll(async () => {
    await fx?.stop();
  });

  it('passes authorization-server-metadata-endpoint and authorization-code-grant', async () => {
    const callbackPort = await freePort();
    const clientId = fx.documents.publish('/clients/conformance.json', [
      conformanceRedirectUri(callbackPort),
    ]);
    const run = await startConformance({
      issuer: fx.A,
      clientId,
      resource: fx.mcp(fx.A),
      callbackPort,
      extraCaCertsPath: fx.cert.caPath,
    });
    try {
      const browser = fx.browser();
      const authorizeUrl = await run.authorizeUrl;
      expect(authorizeUrl.origin).toBe(fx.A);
      const callback = await browser.authorize(authorizeUrl, run.redirectUri, 'carol', { consent: 'allow' });
      // The browser's last step: the runner's own loopback callback receives the code.
      const delivered = await undiciFetch(callback);
      expect(delivered.status).toBe(200);
      const result = await run.result;
      const verdicts = Object.fromEntries(result.checks.map((c) => [c.id, c.status]));
      expect(
        verdicts,
        JSON.stringify(
          result.checks.filter((c) => c.status !== 'SUCCESS'),
          null,
          2,
        ),
      ).toEqual({
        'authorization-server-metadata': 'SUCCESS',
        'authorization-server-metadata-cimd': 'SUCCESS',
        'authorization-code-grant': 'SUCCESS',
      });
      expect(result.ok).toBe(true);
      expect(result.exitCode).toBe(0);
    } finally {
      await run.stop();
    }
  });
});
