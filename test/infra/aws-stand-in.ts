import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call the stand-in received: its operation (`X-Amz-Target`, e.g. `TrentService.GetPublicKey`) and input. */
export interface StandInCall {
  readonly target: string;
  readonly input: Record<string, unknown>;
}

/** An operation's answer: the output as JSON, or an AWS error (`__type`) with status 400. */
export type StandInOperation = (
  input: Record<string, unknown>,
) => { readonly output: unknown } | { readonly error: string; readonly message: string };

export interface AwsStandIn {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_<SERVICE>`. */
  readonly url: string;
  readonly calls: StandInCall[];
  close(): Promise<void>;
}

/**
 * A stand-in for the AWS JSON-protocol services a bundle calls (Secrets Manager, KMS, DynamoDB),
 * on 127.0.0.1 only: it answers the operations it is given by `X-Amz-Target`, refuses any other
 * (400 `UnknownOperationException`) and records every call, so a test sees exactly what a cold
 * start and a request asked of AWS. Point the SDK at it with `AWS_ENDPOINT_URL_SECRETS_MANAGER`,
 * `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL_DYNAMODB` and stand-in credentials.
 */
export async function startAwsStandIn(
  operations: Readonly<Record<string, StandInOperation>>,
): Promise<AwsStandIn> {
  const calls: StandInCall[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const text = Buffer.concat(chunks).toString('utf8');
      const input = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      calls.push({ target, input });
      const operation = operations[target];
      const answer = operation
        ? operation(input)
        : { error: 'UnknownOperationException', message: `the stand-in does not answer ${target}` };
      const json = 'output' in answer ? answer.output : { __type: answer.error, message: answer.message };
      res.writeHead('output' in answer ? 200 : 400, {
        'content-type': req.headers['content-type'] ?? 'application/x-amz-json-1.1',
        'x-amzn-requestid': `stand-in-${calls.length}`,
      });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
