import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientDocuments } from '../../../functions/core/authorization/client-documents.ts';
import { type DevCertificate, ensureDevCertificate } from '../../../functions/local/tls.ts';
import { type ClientDocumentsHost, startClientDocumentsHost } from '../../support/client-documents-host.ts';

const REDIRECTS = ['http://127.0.0.1/cb'];
const SECOND = 1000;
const HOUR = 3600 * SECOND;

let dir: string;
let cert: DevCertificate;
let host: ClientDocumentsHost;
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-edge-client-documents-'));
  cert = await ensureDevCertificate(dir);
  host = await startClientDocumentsHost(cert);
});

afterAll(async () => {
  await host?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh path per test, so the host's hit counts belong to that test alone. */
function path(name: string): string {
  counter++;
  return `/${name}-${counter}/client.json`;
}

function documents(options: { maxEntries?: number; timeoutMs?: number } = {}) {
  const clock = { t: 1_800_000_000_000 };
  const docs = createClientDocuments({
    fetchOptions: {
      allowPrivateNetwork: true,
      ca: cert.ca,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    },
    ...(options.maxEntries ? { maxEntries: options.maxEntries } : {}),
    now: () => clock.t,
  });
  return { docs, clock };
}

const hits = (p: string) => host.hits.get(p) ?? 0;

describe('createClientDocuments', () => {
  it('fetches and validates a client document, then serves it from the cache for its max-age', async () => {
    const p = path('max-age');
    const id = host.publish(p, REDIRECTS, { headers: { 'cache-control': 'public, max-age=300' } });
    const { docs, clock } = documents();
    const first = await docs.get(id);
    expect(first).toMatchObject({ ok: true, document: { client_id: id }, cacheLifetimeSeconds: 300 });
    clock.t += 299 * SECOND;
    expect(await docs.get(id)).toEqual(first);
    expect(hits(p)).toBe(1);
    clock.t += 2 * SECOND;
    expect((await docs.get(id)).ok).toBe(true);
    expect(hits(p)).toBe(2);
  });

  it.each(['max-age=0', 'no-cache', 'public, max-age=5', ''])(
    'keeps a document whose Cache-Control is %j for at least 30 s',
    async (cacheControl) => {
      const p = path('min');
      const id = host.publish(p, REDIRECTS, { headers: { 'cache-control': cacheControl } });
      const { docs, clock } = documents();
      expect(await docs.get(id)).toMatchObject({ ok: true, cacheLifetimeSeconds: 30 });
      clock.t += 29 * SECOND;
      await docs.get(id);
      expect(hits(p)).toBe(1);
      clock.t += 2 * SECOND;
      await docs.get(id);
      expect(hits(p)).toBe(2);
    },
  );

  it('keeps a document at most 24 h whatever its max-age says', async () => {
    const p = path('max');
    const id = host.publish(p, REDIRECTS, { headers: { 'cache-control': 'max-age=999999' } });
    const { docs, clock } = documents();
    expect(await docs.get(id)).toMatchObject({ ok: true, cacheLifetimeSeconds: 86_400 });
    clock.t += 24 * HOUR - SECOND;
    await docs.get(id);
    expect(hits(p)).toBe(1);
    clock.t += 2 * SECOND;
    await docs.get(id);
    expect(hits(p)).toBe(2);
  });

  it('never keeps a no-store document', async () => {
    const p = path('no-store');
    const id = host.publish(p, REDIRECTS, { headers: { 'cache-control': 'no-store, max-age=600' } });
    const { docs } = documents();
    for (let i = 1; i <= 3; i++) {
      expect(await docs.get(id)).toMatchObject({ ok: true, cacheLifetimeSeconds: 0 });
      expect(hits(p)).toBe(i);
    }
  });

  it('never keeps a 404: every look-up fetches again', async () => {
    const p = path('missing');
    const id = host.url(p);
    const { docs } = documents();
    for (let i = 1; i <= 3; i++) {
      expect(await docs.get(id)).toMatchObject({
        ok: false,
        stage: 'fetch',
        errors: [{ rule: 'fetch.status' }],
      });
      expect(hits(p)).toBe(i);
    }
  });

  it('never keeps an invalid document, even one sent with a long max-age', async () => {
    const p = path('invalid');
    const id = host.publish(p, REDIRECTS, {
      headers: { 'cache-control': 'max-age=86400' },
      document: {
        client_id: 'https://someone-else.example/client.json',
        client_name: 'x',
        redirect_uris: REDIRECTS,
      },
    });
    const { docs } = documents();
    for (let i = 1; i <= 3; i++) {
      expect(await docs.get(id)).toMatchObject({
        ok: false,
        stage: 'document',
        errors: [{ rule: 'doc.client_id_mismatch' }],
      });
      expect(hits(p)).toBe(i);
    }
  });

  it('never keeps an oversized document', async () => {
    const p = path('oversize');
    const id = host.publish(p, REDIRECTS, { bodyBytes: 6000, headers: { 'cache-control': 'max-age=86400' } });
    const { docs } = documents();
    for (let i = 1; i <= 3; i++) {
      expect(await docs.get(id)).toMatchObject({
        ok: false,
        stage: 'fetch',
        errors: [{ rule: 'fetch.too_large' }],
      });
      expect(hits(p)).toBe(i);
    }
  });

  it('answers 20 concurrent look-ups of one URL with one fetch', async () => {
    const p = path('coalesced');
    const id = host.publish(p, REDIRECTS, { delayMs: 100 });
    const { docs } = documents();
    const results = await Promise.all(Array.from({ length: 20 }, () => docs.get(id)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(hits(p)).toBe(1);
  });

  it('coalesces concurrent look-ups of a failing URL too, and still keeps nothing', async () => {
    const p = path('coalesced-failure');
    const id = host.publish(p, REDIRECTS, { delayMs: 100, status: 500 });
    const { docs } = documents();
    const results = await Promise.all(Array.from({ length: 20 }, () => docs.get(id)));
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(hits(p)).toBe(1);
    await docs.get(id);
    expect(hits(p)).toBe(2);
  });

  it('holds at most maxEntries documents, dropping the least recently used', async () => {
    const [pa, pb, pc] = [path('lru-a'), path('lru-b'), path('lru-c')];
    const [a, b, c] = [pa, pb, pc].map((p) => host.publish(p, REDIRECTS)) as [string, string, string];
    const { docs } = documents({ maxEntries: 2 });
    await docs.get(a);
    await docs.get(b);
    await docs.get(a); // a is now more recent than b
    await docs.get(c); // evicts b
    expect([hits(pa), hits(pb), hits(pc)]).toEqual([1, 1, 1]);
    await docs.get(a);
    await docs.get(c);
    expect([hits(pa), hits(pb), hits(pc)]).toEqual([1, 1, 1]);
    await docs.get(b); // fetched again, and evicts a (c was used after a)
    expect([hits(pa), hits(pb), hits(pc)]).toEqual([1, 2, 1]);
    await docs.get(c);
    expect(hits(pc)).toBe(1);
    await docs.get(a);
    expect(hits(pa)).toBe(2);
  });

  it('gives up on a slow host with fetch.timeout and keeps nothing', async () => {
    const p = path('slow');
    const id = host.publish(p, REDIRECTS, { delayMs: 1500 });
    const { docs } = documents({ timeoutMs: 200 });
    const started = Date.now();
    expect(await docs.get(id)).toMatchObject({
      ok: false,
      stage: 'fetch',
      errors: [{ rule: 'fetch.timeout' }],
    });
    expect(Date.now() - started).toBeLessThan(1200);
    expect(await docs.get(id)).toMatchObject({ ok: false, errors: [{ rule: 'fetch.timeout' }] });
    expect(hits(p)).toBe(2);
  });

  it('refuses a redirecting host without following it, and keeps nothing', async () => {
    const p = path('redirect');
    const target = path('target');
    host.publish(target, REDIRECTS);
    const id = host.publish(p, REDIRECTS, { redirectTo: host.url(target) });
    const { docs } = documents();
    expect(await docs.get(id)).toMatchObject({ ok: false, errors: [{ rule: 'fetch.redirect_refused' }] });
    await docs.get(id);
    expect(hits(p)).toBe(2);
    expect(hits(target)).toBe(0);
  });
});
