import type { Readable } from 'node:stream';

export interface StreamLimits {
  /** An SSE comment is sent after this much upstream silence (CloudFront's origin read timeout is 30 s). */
  readonly keepAliveMs: number;
  /** The stream is ended cleanly, at an event boundary, after this long (API Gateway stops at 15 min). */
  readonly maxDurationMs: number;
}

const KEEP_ALIVE = new TextEncoder().encode(': keep-alive\n\n');
const WAITED = Symbol('waited');

/**
 * An upstream body as the client's stream, pulled chunk by chunk: nothing is read from the
 * upstream faster than the client takes it (memory stays bounded for any size), and nothing is
 * held back (each chunk goes out as it arrives). For SSE (`keepAlive`), a `:` comment is added
 * after `keepAliveMs` of upstream silence — only between events, so an event is never split — and
 * the stream ends at the first event boundary after `maxDurationMs` (the client resumes with
 * `Last-Event-ID`). Cancelling it (the client left) destroys the upstream request.
 */
export function proxyBody(
  source: Readable,
  limits: StreamLimits & {
    readonly sse: boolean;
    /**
     * Whether the caller may still receive this stream (its grant not revoked), asked between
     * events at most every `recheckMs`: a long stream ends soon after a revocation.
     */
    readonly alive?: () => Promise<boolean>;
    readonly recheckMs?: number;
  },
): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const started = Date.now();
  let lastWrite = started;
  let atBoundary = true;
  let tail = '';
  let pending: Promise<IteratorResult<Buffer>> | undefined;
  let checkedAt = started;
  const recheckMs = limits.recheckMs ?? 60_000;

  const wait = (ms: number) =>
    new Promise<typeof WAITED>((resolve) => {
      const t = setTimeout(() => resolve(WAITED), Math.max(0, ms));
      t.unref?.();
    });

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (limits.sse && atBoundary && Date.now() - started >= limits.maxDurationMs) {
            source.destroy();
            controller.close();
            return;
          }
          if (limits.sse && atBoundary && limits.alive && Date.now() - checkedAt >= recheckMs) {
            checkedAt = Date.now();
            if (!(await limits.alive().catch(() => true))) {
              source.destroy();
              controller.close();
              return;
            }
          }
          pending ??= chunks.next();
          let next: IteratorResult<Buffer> | typeof WAITED;
          try {
            // Mid-event nothing may be inserted: wait for the upstream alone.
            next =
              limits.sse && atBoundary
                ? await Promise.race([
                    pending,
                    wait(
                      Math.min(
                        limits.keepAliveMs - (Date.now() - lastWrite),
                        limits.maxDurationMs - (Date.now() - started),
                      ),
                    ),
                  ])
                : await pending;
          } catch {
            // The upstream connection broke mid-body: end what the client has (it sees a short stream).
            controller.close();
            return;
          }
          if (next === WAITED) {
            if (atBoundary && Date.now() - lastWrite >= limits.keepAliveMs) {
              controller.enqueue(KEEP_ALIVE);
              lastWrite = Date.now();
              return;
            }
            continue;
          }
          pending = undefined;
          if (next.done) {
            controller.close();
            return;
          }
          const chunk = next.value;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          lastWrite = Date.now();
          if (limits.sse) {
            tail = (tail + chunk.toString('latin1')).slice(-4);
            atBoundary = /\n\n$|\r\n\r\n$|\r\r$/.test(tail);
          }
          return;
        }
      },
      cancel() {
        source.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}
