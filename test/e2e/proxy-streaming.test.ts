import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, type Response as UndiciResponse, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { type GatewayTokens, gatewayTokens, TEST_CLIENT } from '../support/gateway-tokens.ts';
import {
  preciseNow,
  type RecordedRequest,
  scriptedUpstream,
} from '../support/upstreams/scripted-upstream.ts';

/** Full garbage collection, so memory figures show what is alive, not what is not yet collected. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** One SSE block (an event or a comment) as the client received it. */
interface Block {
  readonly text: string;
  /** When the chunk that completed it arrived (epoch ms, sub-ms precision). */
  readonly at: number;
}

/**
 * The MCP proxy streams, over HTTPS on the local gateway: SSE events reach the client as the
 * upstream sends them, a large answer arrives intact while the gateway's memory stays flat (it
 * pulls from the upstream only as fast as the client reads), keep-alive comments fill upstream
 * silence only between events, a stream ends cleanly at the configured cap, and a client that
 * leaves takes the upstream request with it.
 */
describe('the MCP proxy streams answers as they arrive', () => {
  const upstream = scriptedUpstream();
  const KEEP_ALIVE_MS = 200;
  const MAX_STREAM_MS = 4000;
  let fx: AuthorizationFixture;
  let alice: GatewayTokens;
  let agent: Agent;

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      upstreamMcp: upstream.mcp,
      config: () => ({ mcpClients: [{ ...TEST_CLIENT, redirectUris: [...TEST_CLIENT.redirectUris] }] }),
      proxyLimits: { keepAliveMs: KEEP_ALIVE_MS, maxStreamMs: MAX_STREAM_MS },
    });
    alice = await gatewayTokens(fx.browser(), fx.A, 'alice');
    agent = new Agent({ connect: { ca: fx.cert.ca } });
  });

  afterAll(async () => {
    await agent?.close();
    await fx?.stop();
  });

  function post(id: string | number, signal?: AbortSignal) {
    return undiciFetch(fx.mcp(fx.A), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${alice.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'stream', arguments: {} },
      }),
      dispatcher: agent,
      ...(signal ? { signal } : {}),
    });
  }

  /** The upstream request a call produced (the last one recorded). */
  function lastUpstreamRequest(): RecordedRequest {
    const request = upstream.requests.at(-1);
    if (!request) throw new Error('nothing reached the upstream');
    return request;
  }

  /** Reads an SSE body block by block, noting when each block arrived; `stop` ends reading early. */
  async function readBlocks(
    body: NonNullable<UndiciResponse['body']>,
    stop: (blocks: Block[]) => boolean = () => false,
  ): Promise<{ blocks: Block[]; raw: string; ended: boolean }> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const blocks: Block[] = [];
    let raw = '';
    let pending = '';
    for (;;) {
      const { done, value } = await reader.read();
      const at = preciseNow();
      if (done) return { blocks, raw, ended: true };
      const text = decoder.decode(value, { stream: true });
      raw += text;
      pending += text;
      let end = pending.indexOf('\n\n');
      while (end !== -1) {
        blocks.push({ text: pending.slice(0, end), at });
        pending = pending.slice(end + 2);
        end = pending.indexOf('\n\n');
      }
      if (stop(blocks)) {
        await reader.cancel();
        return { blocks, raw, ended: false };
      }
    }
  }

  const isComment = (block: Block) => block.text.split('\n').every((line) => line.startsWith(':'));
  /** The JSON-RPC message of an event block (throws when the block is not one intact event). */
  function messageOf(block: Block): {
    id?: string | number;
    method?: string;
    params?: Record<string, unknown>;
  } {
    const lines = block.text.split('\n');
    expect(
      lines.filter((l) => l.startsWith(':')),
      'no comment inside an event',
    ).toEqual([]);
    const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    expect(data).toHaveLength(1);
    return JSON.parse(data[0]!);
  }

  it('delivers each SSE event within a few ms of the upstream sending it, not at the end', async () => {
    upstream.use({ kind: 'sse', everyMs: 100, count: 30 });
    const res = await post('sse-timing');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const { blocks, ended } = await readBlocks(res.body!);
    expect(ended).toBe(true);
    const events = blocks.filter((b) => !isComment(b)).map((b) => ({ block: b, message: messageOf(b) }));
    const notifications = events.filter((e) => e.message.method === 'notifications/message');
    expect(notifications.map((e) => e.message.params?.seq)).toEqual([...Array(30).keys()]);
    expect(events.at(-1)?.message.id).toBe('sse-timing');
    const delays = notifications.map((e) => e.block.at - (e.message.params!.sentAt as number));
    const figures = {
      p50: percentile(delays, 50).toFixed(2),
      p95: percentile(delays, 95).toFixed(2),
      max: Math.max(...delays).toFixed(2),
    };
    console.info(`proxy-streaming: SSE event delay through the gateway (ms) ${JSON.stringify(figures)}`);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(percentile(delays, 95)).toBeLessThan(50);
    // The first event arrived while the upstream still had ~2.9 s of events to send.
    const lastSent = notifications.at(-1)!.message.params!.sentAt as number;
    expect(notifications[0]!.block.at).toBeLessThan(lastSent - 2500);
  });

  it('passes a 5 MiB JSON result through intact', async () => {
    upstream.use({ kind: 'bytes', total: 5 * MiB, chunkBytes: 64 * 1024, format: 'json' });
    const res = await post('five-mib');
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const sent = lastUpstreamRequest().sent;
    expect(bytes.byteLength).toBe(5 * MiB);
    expect(sent.bytes).toBe(5 * MiB);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(sent.sha256);
    const body = JSON.parse(bytes.toString('utf8')) as {
      id: string;
      result: { content: { text: string }[] };
    };
    expect(body.id).toBe('five-mib');
  });

  it('keeps the gateway’s memory flat while a 50 MiB answer passes to a slow reader (pulled chunk by chunk)', async () => {
    const gc = collector();
    const total = 50 * MiB;
    const rate = 25 * MiB; // bytes per second the client accepts: far below what the upstream could send
    upstream.use({ kind: 'bytes', total, chunkBytes: 64 * 1024, format: 'json' });
    gc();
    const base = process.memoryUsage();
    const res = await post('fifty-mib');
    expect(res.status).toBe(200);
    const sent = lastUpstreamRequest().sent;
    const hash = createHash('sha256');
    const reader = res.body!.getReader();
    const started = Date.now();
    let received = 0;
    let lead = 0;
    let rssGrowth = 0;
    /** Live (after a full collection) V8 heap and Buffer memory above the baseline, every 5 MiB. */
    const heap: number[] = [];
    const live: number[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      hash.update(value);
      // How far the upstream got ahead of the client: what sits in buffers on the way (kernel included).
      lead = Math.max(lead, sent.bytes - received);
      if (received >= (live.length + 1) * 5 * MiB) {
        // Buffer memory is released by finalizers that run after a collection, on a later turn:
        // collect, let them run, collect again, so the sample counts what is still held.
        gc();
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        const m = process.memoryUsage();
        heap.push(m.heapUsed - base.heapUsed);
        live.push(m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers));
        rssGrowth = Math.max(rssGrowth, m.rss - base.rss);
      }
      const ahead = received - ((Date.now() - started) / 1000) * rate;
      if (ahead > rate / 250) await sleep((ahead / rate) * 1000);
    }
    const seconds = (Date.now() - started) / 1000;
    const mib = (n: number) => Number((n / MiB).toFixed(1));
    const figures = {
      seconds: Number(seconds.toFixed(1)),
      heapGrowthMaxMiB: mib(Math.max(...heap)),
      liveGrowthMedianMiB: mib(percentile(live, 50)),
      liveGrowthMaxMiB: mib(Math.max(...live)),
      rssGrowthMaxMiB: mib(rssGrowth),
      upstreamLeadMaxMiB: mib(lead),
    };
    console.info(`proxy-streaming: 50 MiB JSON to a client reading <= 25 MiB/s ${JSON.stringify(figures)}`);
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(sent.sha256);
    expect(seconds).toBeGreaterThan(1.5);
    // A buffering proxy would let the upstream finish at once and hold what the client has not read
    // (45 MiB at the first sample, 25 MiB at the median). Buffer memory has transient spikes of
    // 10-25 MiB in this process even without the proxy (TLS and undici on the test's side; measured
    // on a direct client-upstream read too), so the Buffer figure is bounded by its median.
    expect(lead).toBeLessThan(16 * MiB);
    expect(Math.max(...heap)).toBeLessThan(20 * MiB);
    expect(percentile(live, 50)).toBeLessThan(10 * MiB);
  });

  it('fills upstream silence with `: keep-alive` comments between events, never inside one', async () => {
    // Event 0, a second of silence, event 1, then event 2 cut in two halves 600 ms apart.
    upstream.use({ kind: 'sse', everyMs: 100, count: 3, gaps: { 1: 1000 }, splits: { 2: 600 } });
    const res = await post('keep-alive');
    expect(res.status).toBe(200);
    const { blocks, raw } = await readBlocks(res.body!);
    const kinds = blocks.map((b) => (isComment(b) ? 'comment' : 'event'));
    const firstEvent = kinds.indexOf('event');
    const secondEvent = kinds.indexOf('event', firstEvent + 1);
    // ~1000 ms / 200 ms of silence after event 0: several comments, then only events.
    expect(
      kinds.slice(firstEvent + 1, secondEvent).filter((k) => k === 'comment').length,
    ).toBeGreaterThanOrEqual(3);
    expect(kinds.slice(secondEvent)).toEqual(['event', 'event', 'event']);
    for (const block of blocks.filter(isComment)) expect(block.text).toBe(': keep-alive');
    const messages = blocks.filter((b) => !isComment(b)).map(messageOf);
    expect(messages.map((m) => m.params?.seq ?? m.id)).toEqual([0, 1, 2, 'keep-alive']);
    expect(raw.endsWith('\n\n')).toBe(true);
  });

  it('ends an endless SSE stream cleanly at an event boundary shortly after maxStreamMs', async () => {
    upstream.use({ kind: 'sse', everyMs: 100 });
    const started = Date.now();
    const res = await post('endless');
    expect(res.status).toBe(200);
    const { blocks, raw, ended } = await readBlocks(res.body!);
    const took = Date.now() - started;
    console.info(`proxy-streaming: endless stream ended after ${took} ms (maxStreamMs ${MAX_STREAM_MS})`);
    expect(ended).toBe(true);
    expect(took).toBeGreaterThanOrEqual(MAX_STREAM_MS);
    expect(took).toBeLessThan(MAX_STREAM_MS + 1000);
    expect(raw.endsWith('\n\n')).toBe(true);
    const messages = blocks.filter((b) => !isComment(b)).map(messageOf);
    expect(messages.length).toBeGreaterThan(30);
    expect(messages.map((m) => m.params?.seq)).toEqual([...Array(messages.length).keys()]);
    // The upstream's request was ended by the proxy, not finished by the upstream.
    await expect(lastUpstreamRequest().closed).resolves.toMatchObject({ completed: false });
  });

  it('aborts the upstream request when the client disconnects mid-stream', async () => {
    upstream.use({ kind: 'sse', everyMs: 100 });
    const controller = new AbortController();
    const res = await post('leaving', controller.signal);
    expect(res.status).toBe(200);
    const request = lastUpstreamRequest();
    await readBlocks(res.body!, (blocks) => blocks.filter((b) => !isComment(b)).length >= 3);
    const left = preciseNow();
    controller.abort();
    const closed = await Promise.race([request.closed, sleep(2000).then(() => undefined)]);
    expect(closed, 'the upstream saw the request close').toBeDefined();
    expect(closed!.completed).toBe(false);
    console.info(
      `proxy-streaming: upstream saw the close ${(closed!.at - left).toFixed(1)} ms after the client left`,
    );
    const bytes = request.sent.bytes;
    await sleep(300);
    expect(request.sent.bytes).toBe(bytes);
  });

  // Product gap: `mcp-endpoint.ts` passes `request.signal` to the upstream client ("client went
  // away"), but the Request built from the event (adapters/apigateway.ts `eventToRequest`) has no
  // signal tied to the connection, so the upstream exchange is held until headersTimeoutMs (55 s).
  it('aborts the upstream request when the client disconnects before the upstream answered', async () => {
    upstream.use({ kind: 'slow' });
    const controller = new AbortController();
    const before = upstream.requests.length;
    const pending = post('gone-early', controller.signal).catch(() => 'aborted');
    while (upstream.requests.length === before) await sleep(10);
    const request = lastUpstreamRequest();
    controller.abort();
    await pending;
    const closed = await Promise.race([request.closed, sleep(2000).then(() => undefined)]);
    expect(closed, 'the upstream saw the request close within 2 s of the client leaving').toBeDefined();
  });
});
