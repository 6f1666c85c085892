import { createServer } from 'node:http';

export interface LoopbackReceiver {
  /** `http://127.0.0.1:PORT/callback`: the redirect URI (RFC 8252 §7.3). */
  readonly redirectUri: string;
  /** Resolves with the callback's query once the browser arrives there. */
  readonly callback: Promise<URLSearchParams>;
  close(): void;
}

/**
 * A one-shot HTTP listener on 127.0.0.1 for the authorization response: it answers the browser
 * with a short page and hands the query (`code`, `state`, `iss` or `error`) to the client.
 */
export async function startLoopbackReceiver(port = 0, timeoutMs = 300_000): Promise<LoopbackReceiver> {
  let resolve!: (params: URLSearchParams) => void;
  let reject!: (error: Error) => void;
  const callback = new Promise<URLSearchParams>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  callback.catch(() => undefined);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    const failed = url.searchParams.has('error');
    res.writeHead(failed ? 400 : 200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(
      failed ? 'Authorization failed; see the terminal.\n' : 'Authorized. You can close this window.\n',
    );
    resolve(url.searchParams);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const timer = setTimeout(() => reject(new Error('no answer from the browser within 5 minutes')), timeoutMs);
  timer.unref();
  const bound = (server.address() as { port: number }).port;
  return {
    redirectUri: `http://127.0.0.1:${bound}/callback`,
    callback,
    close() {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
    },
  };
}
