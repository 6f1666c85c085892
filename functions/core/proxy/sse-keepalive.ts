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

  /** `pending`, or WAITED after `ms`, whichever comes first; the timer never outlives the race. */
  const within = async (promise: Promise<IteratorResult<Buffer>>, ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<typeof WAITED>((resolve) => {
          timer = setTimeout(() => resolve(WAITED), Math.max(0, ms));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

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
          const overdueIn = limits.maxDurationMs - (Date.now() - started);
          let next: IteratorResult<Buffer> | typeof WAITED;
          try {
            next = limits.sse
              ? atBoundary
                ? await within(pending, Math.min(limits.keepAliveMs - (Date.now() - lastWrite), overdueIn))
                : // Mid-event nothing may be inserted: wait for the upstream alone.
                  await pending
              : // A JSON body that stalls must still end before the platform's cap.
                await within(pending, overdueIn);
          } catch {
            // The upstream connection broke mid-body. SSE: end cleanly at what the client has (it
            // resumes with Last-Event-ID). JSON: fail the stream, so the client sees a broken answer
            // rather than a short one.
            if (limits.sse) controller.close();
            else controller.error(new Error('the upstream connection broke'));
            return;
          }
          if (next === WAITED) {
            if (!limits.sse) {
              if (Date.now() - started < limits.maxDurationMs) continue;
              source.destroy();
              controller.error(new Error('the upstream answer took too long'));
              return;
            }
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
