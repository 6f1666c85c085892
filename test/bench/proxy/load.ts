import { performance } from 'node:perf_hooks';
import type { Agent } from 'undici';
import { preciseNow, STREAM_TOOL } from './upstream.ts';

/** One way to reach the upstream's MCP endpoint: directly, through the bare proxy, or the gateway. */
export interface Target {
  readonly name: string;
  readonly url: URL;
  /** The `Authorization` header the client sends (none to the bare proxy, which adds the upstream's). */
  readonly authorization?: string;
  /** A keep-alive client trusting the development CA, one per target. */
  readonly agent: Agent;
  /** Calls made so far (table calls are reported per call). */
  calls: number;
}

function post(target: Target, id: number, params: unknown) {
  target.calls++;
  return target.agent.request({
    origin: target.url.origin,
    path: target.url.pathname,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
      ...(target.authorization ? { authorization: target.authorization } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params }),
  });
}

/** One JSON `tools/call`, read in full; anything but a 200 JSON-RPC result stops the bench. */
export async function callTool(target: Target, id: number): Promise<void> {
  const { statusCode, body } = await post(target, id, { name: 'echo', arguments: { text: 'hi' } });
  const text = await body.text();
  if (statusCode !== 200 || !text.includes('"result"')) {
    throw new Error(`${target.name}: HTTP ${statusCode}: ${text.slice(0, 300)}`);
  }
}

/** Each run starts with a different target, so drift and load hit every target alike. */
function rotated<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Sequential calls, `perRound` per target per round, interleaved; every call's latency in ms. */
export async function latencyRounds(
  targets: readonly Target[],
  rounds: number,
  perRound: number,
): Promise<Map<Target, number[]>> {
  const samples = new Map(targets.map((t) => [t, [] as number[]]));
  let id = 0;
  for (let round = 0; round < rounds; round++) {
    for (const target of rotated(targets, round)) {
      const list = samples.get(target)!;
      for (let i = 0; i < perRound; i++) {
        const start = performance.now();
        await callTool(target, ++id);
        list.push(performance.now() - start);
      }
    }
  }
  return samples;
}

/** One throughput round of one target. */
export interface RoundRate {
  readonly perSecond: number;
  /** This process's CPU (user + system, all threads) per call, ms: client, proxy and upstream together. */
  readonly cpuPerCall: number;
}

/** Calls per second with `concurrency` callers for `seconds`, per target per round, interleaved. */
export async function throughputRounds(
  targets: readonly Target[],
  rounds: number,
  seconds: number,
  concurrency: number,
): Promise<Map<Target, RoundRate[]>> {
  const rates = new Map(targets.map((t) => [t, [] as RoundRate[]]));
  let id = 0;
  for (let round = 0; round < rounds; round++) {
    for (const target of rotated(targets, round)) {
      let done = 0;
      const cpu = process.cpuUsage();
      const start = performance.now();
      const end = start + seconds * 1000;
      const worker = async () => {
        while (performance.now() < end) {
          await callTool(target, ++id);
          done++;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const used = process.cpuUsage(cpu);
      rates.get(target)!.push({
        perSecond: done / ((performance.now() - start) / 1000),
        cpuPerCall: (used.user + used.system) / 1000 / done,
      });
    }
  }
  return rates;
}

/** What the client saw of one SSE answer. */
export interface StreamReceipt {
  /** Per event: receive time minus the upstream's send time, ms. */
  readonly delays: number[];
  /** When the first event arrived, and when the upstream finished the stream (epoch ms). */
  readonly firstEventAt: number;
  readonly upstreamFinishedAt: number;
}

/** One streaming `tools/call`: `count` events `everyMs` apart, each timed on arrival. */
export async function streamTool(
  target: Target,
  id: number,
  count: number,
  everyMs: number,
): Promise<StreamReceipt> {
  const { statusCode, headers, body } = await post(target, id, {
    name: STREAM_TOOL,
    arguments: { count, everyMs },
  });
  if (statusCode !== 200 || !String(headers['content-type']).startsWith('text/event-stream')) {
    throw new Error(`${target.name}: HTTP ${statusCode}: ${(await body.text()).slice(0, 300)}`);
  }
  const delays: number[] = [];
  let firstEventAt: number | undefined;
  let upstreamFinishedAt: number | undefined;
  let pending = '';
  for await (const chunk of body) {
    const at = preciseNow();
    pending += (chunk as Buffer).toString('utf8');
    for (let end = pending.indexOf('\n\n'); end !== -1; end = pending.indexOf('\n\n')) {
      const data = pending
        .slice(0, end)
        .split('\n')
        .find((line) => line.startsWith('data: '));
      pending = pending.slice(end + 2);
      if (!data) continue;
      const message = JSON.parse(data.slice(6)) as {
        params?: { sentAt: number };
        result?: { finishedAt: number };
      };
      if (message.params) {
        firstEventAt ??= at;
        delays.push(at - message.params.sentAt);
      } else if (message.result) upstreamFinishedAt = message.result.finishedAt;
    }
  }
  if (firstEventAt === undefined || upstreamFinishedAt === undefined || delays.length !== count) {
    throw new Error(`${target.name}: the stream ended early (${delays.length} of ${count} events)`);
  }
  return { delays, firstEventAt, upstreamFinishedAt };
}

/** `rounds` streams per target, interleaved. */
export async function streamRounds(
  targets: readonly Target[],
  rounds: number,
  count: number,
  everyMs: number,
): Promise<Map<Target, StreamReceipt[]>> {
  const receipts = new Map(targets.map((t) => [t, [] as StreamReceipt[]]));
  let id = 0;
  for (let round = 0; round < rounds; round++) {
    for (const target of rotated(targets, round)) {
      receipts.get(target)!.push(await streamTool(target, ++id, count, everyMs));
    }
  }
  return receipts;
}
