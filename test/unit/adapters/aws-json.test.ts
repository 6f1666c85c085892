import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AwsServiceError, createAwsJsonClient } from '../../../functions/adapters/aws-json.ts';
import { createFetchKms, createFetchSecrets } from '../../../functions/adapters/fetch-kms.ts';
import { type AwsStandIn, startAwsStandIn } from '../../infra/aws-stand-in.ts';

/**
 * The proxy's signed-fetch AWS client (functions/adapters/aws-json.ts) against servers on
 * 127.0.0.1: its signatures checked by AWS's own signer (@smithy/signature-v4, the SDK's), its
 * retry and timeout rules, its errors shaped like the SDK's and free of credentials.
 */

const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-test';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE-session-token-for-tests';
const ACCESS_KEY_ID = 'AKIDEXAMPLETEST';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Answers request number n (0-based) with `answer(n, request, res)`; `undefined` leaves it unanswered. */
type Answer = (n: number, request: Received, res: ServerResponse) => void;

interface TestServer {
  readonly url: string;
  readonly received: Received[];
  answer: Answer;
  close(): Promise<void>;
}

async function startServer(): Promise<TestServer> {
  const received: Received[] = [];
  const state: { answer: Answer } = { answer: (_n, _r, res) => json(res, 200, {}) };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(request);
      state.answer(received.length - 1, request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get answer() {
      return state.answer;
    },
    set answer(answer: Answer) {
      state.answer = answer;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'x-amzn-requestid': 'req-1',
    ...headers,
  });
  res.end(JSON.stringify(body));
}

const awsError = (type: string, message: string) => ({
  __type: `com.amazonaws.dynamodb.v20120810#${type}`,
  message,
});

/** node's SHA-256 and HMAC-SHA-256 in the shape @smithy/signature-v4 asks for. */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.secret));
  }
  update(data: SourceData): void {
    this.hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function toBytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * Re-signs the received request with AWS's own signer, the same credentials and the request's
 * own date and signed headers, and returns that Authorization header for comparison.
 */
async function expectedAuthorization(request: Received, credentials: { sessionToken?: string }) {
  const authorization = String(request.headers.authorization);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const scope = /Credential=[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization);
  const amzDate = String(request.headers['x-amz-date']);
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const headers: Record<string, string> = {};
  // The signer adds x-amz-date and x-amz-security-token itself.
  for (const name of signedHeaders) {
    if (name !== 'x-amz-date' && name !== 'x-amz-security-token')
      headers[name] = String(request.headers[name]);
  }
  const [host, port] = String(request.headers.host).split(':');
  const signer = new SignatureV4({
    service: scope?.[3] ?? '',
    region: scope?.[2] ?? '',
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, ...credentials },
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: host ?? '',
      port: Number(port),
      path: request.url,
      query: {},
      headers,
      body: request.body,
    },
    { signingDate },
  );
  return { authorization: signed.headers.authorization, signedHeaders };
}

describe('the signed JSON-protocol client', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    server.received.length = 0;
    server.answer = (_n, _r, res) => json(res, 200, {});
  });

  const env = (extra: Record<string, string | undefined> = {}) => ({
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN: SESSION_TOKEN,
    AWS_ENDPOINT_URL_DYNAMODB: server.url,
    ...extra,
  });
  const dynamodb = (extra: Record<string, string | undefined> = {}, requestTimeoutMs = 2_000) =>
    createAwsJsonClient({
      service: 'dynamodb',
      targetPrefix: 'DynamoDB_20120810',
      contentType: 'application/x-amz-json-1.0',
      env: env(extra),
      requestTimeoutMs,
    });

  it('signs requests so that AWS’s own signer computes the same signature, session token included', async () => {
    server.answer = (_n, _r, res) => json(res, 200, { Item: { pk: { S: 'a' } } });
    const out = await dynamodb().call('GetItem', { TableName: 't', Key: { pk: { S: 'a' } } });
    expect(out).toEqual({ Item: { pk: { S: 'a' } } });

    const [request] = server.received;
    expect(request).toBeDefined();
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/');
    expect(request!.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    expect(request!.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request!.headers['x-amz-security-token']).toBe(SESSION_TOKEN);
    expect(JSON.parse(request!.body)).toEqual({ TableName: 't', Key: { pk: { S: 'a' } } });
    const authorization = String(request!.headers.authorization);
    expect(authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/\\d{8}/eu-west-1/dynamodb/aws4_request, `),
    );
    const expected = await expectedAuthorization(request!, { sessionToken: SESSION_TOKEN });
    expect(expected.signedHeaders).toEqual(
      expect.arrayContaining(['host', 'x-amz-date', 'x-amz-security-token', 'x-amz-target']),
    );
    expect(authorization).toBe(expected.authorization);
  });

  it('signs without a session token when none is set', async () => {
    await dynamodb({ AWS_SESSION_TOKEN: undefined }).call('DescribeLimits', {});
    const [request] = server.received;
    expect(request!.headers['x-amz-security-token']).toBeUndefined();
    const expected = await expectedAuthorization(request!, {});
    expect(expected.signedHeaders).not.toContain('x-amz-security-token');
    expect(String(request!.headers.authorization)).toBe(expected.authorization);
  });

  it('retries a 500 once and returns the second answer', async () => {
    server.answer = (n, _r, res) =>
      n === 0 ? json(res, 500, awsError('InternalServerError', 'try again')) : json(res, 200, { ok: true });
    await expect(dynamodb().call('GetItem', {})).resolves.toEqual({ ok: true });
    expect(server.received).toHaveLength(2);
  });

  it('gives up after two 5xx answers with the service’s error', async () => {
    server.answer = (_n, _r, res) => json(res, 503, awsError('ServiceUnavailable', 'busy'));
    const error = await dynamodb()
      .call('GetItem', {})
      .catch((e: unknown) => e);
    expect(server.received).toHaveLength(2);
    expect(error).toBeInstanceOf(AwsServiceError);
    expect(error).toMatchObject({
      name: 'ServiceUnavailable',
      message: 'busy',
      $fault: 'server',
      $metadata: { httpStatusCode: 503, requestId: 'req-1', attempts: 2 },
    });
  });

  it('does not retry a 400 and names the error after AWS’s code', async () => {
    server.answer = (_n, _r, res) => json(res, 400, awsError('ValidationException', 'bad key'));
    const error = await dynamodb()
      .call('GetItem', {})
      .catch((e: unknown) => e);
    expect(server.received).toHaveLength(1);
    expect(error).toMatchObject({
      name: 'ValidationException',
      message: 'bad key',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, requestId: 'req-1', attempts: 1 },
    });
  });

  it('retries throttling, named by __type or by the x-amzn-errortype header', async () => {
    server.answer = (n, _r, res) =>
      n === 0 ? json(res, 400, awsError('ThrottlingException', 'slow down')) : json(res, 200, { n });
    await expect(dynamodb().call('Query', {})).resolves.toEqual({ n: 1 });
    expect(server.received).toHaveLength(2);

    server.received.length = 0;
    server.answer = (_n, _r, res) =>
      json(
        res,
        400,
        { Message: 'too fast' },
        { 'x-amzn-errortype': 'ProvisionedThroughputExceededException:http://internal.amazon.com/coral/' },
      );
    const error = await dynamodb()
      .call('Query', {})
      .catch((e: unknown) => e);
    expect(server.received).toHaveLength(2);
    expect(error).toMatchObject({ name: 'ProvisionedThroughputExceededException', message: 'too fast' });
  });

  it('names a non-JSON error answer UnknownError with its status, without retrying a 4xx', async () => {
    server.answer = (_n, _r, res) => {
      res.writeHead(403, { 'content-type': 'text/html' });
      res.end('<html>forbidden</html>');
    };
    const error = await dynamodb()
      .call('GetItem', {})
      .catch((e: unknown) => e);
    expect(server.received).toHaveLength(1);
    expect(error).toMatchObject({ name: 'UnknownError', $metadata: { httpStatusCode: 403 } });
    expect((error as Error).message).toContain('403');
  });

  it('retries a dropped connection once, then reports a network error', async () => {
    server.answer = (_n, _r, res) => res.socket?.destroy();
    const error = await dynamodb()
      .call('GetItem', {})
      .catch((e: unknown) => e);
    expect(server.received).toHaveLength(2);
    expect(error).toMatchObject({ name: 'NetworkError' });
    expect((error as Error).message).toMatch(/^dynamodb GetItem could not reach AWS/);
  });

  it('bounds each attempt by the request timeout on a server that never answers', async () => {
    server.answer = () => {}; // never answers
    const started = Date.now();
    const error = await dynamodb({}, 200)
      .call('GetItem', {})
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({
      name: 'TimeoutError',
      message: 'dynamodb GetItem did not answer within 200 ms',
    });
    expect(server.received).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(2_000); // 2 × 200 ms, at most 100 ms between, and slack for a busy machine
  });

  it('stops at once on the caller’s abort, without a retry', async () => {
    server.answer = () => {};
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const error = await dynamodb({}, 5_000)
      .call('GetItem', {}, { abortSignal: controller.signal })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(500);
    expect(error).toMatchObject({ name: 'AbortError' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.received).toHaveLength(1);

    // Already aborted: nothing is sent.
    server.received.length = 0;
    await expect(dynamodb().call('GetItem', {}, { abortSignal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(server.received).toHaveLength(0);
  });

  it('refuses clearly, without sending, when credentials or the region are missing', async () => {
    await expect(dynamodb({ AWS_ACCESS_KEY_ID: undefined }).call('GetItem', {})).rejects.toThrow(
      'no AWS credentials for dynamodb: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
    await expect(dynamodb({ AWS_SECRET_ACCESS_KEY: '' }).call('GetItem', {})).rejects.toThrow(
      /no AWS credentials/,
    );
    await expect(dynamodb({ AWS_REGION: undefined }).call('GetItem', {})).rejects.toThrow(
      'no AWS region for dynamodb: set AWS_REGION',
    );
    await expect(
      dynamodb({ AWS_REGION: undefined, AWS_DEFAULT_REGION: 'eu-north-1' }).call('GetItem', {}),
    ).resolves.toEqual({});
    expect(server.received).toHaveLength(1);
    expect(String(server.received[0]!.headers.authorization)).toContain('/eu-north-1/dynamodb/');
  });

  it('never puts the secret access key or the session token in an error, even when AWS echoes them', async () => {
    // AWS's InvalidSignatureException can quote the canonical request, session token included.
    server.answer = (_n, request, res) =>
      json(res, 403, {
        __type: 'InvalidSignatureException',
        message: `The request signature we calculated does not match. Canonical request:\n${JSON.stringify(request.headers)}\nkey ${SECRET_ACCESS_KEY}`,
      });
    const error = (await dynamodb()
      .call('GetItem', { TableName: 'body-marker' })
      .catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('InvalidSignatureException');
    for (const text of [error.message, String(error.stack), JSON.stringify(error)]) {
      expect(text).not.toContain(SECRET_ACCESS_KEY);
      expect(text).not.toContain(SESSION_TOKEN);
      expect(text).not.toContain('body-marker');
    }
    expect(error.message).toContain('[redacted]');
  });

  it('keeps only the fields callers read from an error answer, never an echo of the request', async () => {
    server.answer = (_n, _r, res) =>
      json(res, 400, {
        __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
        message: 'The conditional request failed',
        Item: { pk: { S: 'item-1' } },
        Reason: `echo ${SESSION_TOKEN}`,
      });
    const error = (await dynamodb()
      .call('UpdateItem', {})
      .catch((e: unknown) => e)) as Error & Record<string, unknown>;
    expect(error.name).toBe('ConditionalCheckFailedException');
    expect(error.Item).toEqual({ pk: { S: 'item-1' } });
    expect(error.Reason).toBeUndefined();
    expect(JSON.stringify(error)).not.toContain(SESSION_TOKEN);
  });

  it('reads the first of several codes in x-amzn-errortype', async () => {
    server.answer = (_n, _r, res) =>
      json(
        res,
        400,
        { message: 'no' },
        {
          'x-amzn-errortype': 'ConditionalCheckFailedException:http://internal.amazon.com/, OtherError',
        },
      );
    const error = (await dynamodb()
      .call('PutItem', {})
      .catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('ConditionalCheckFailedException');
  });

  it('never follows a redirect: the signed body and session token stay with the endpoint', async () => {
    const elsewhere = await startServer();
    try {
      server.answer = (_n, _r, res) => {
        res.writeHead(307, { location: `${elsewhere.url}/` });
        res.end();
      };
      const error = (await dynamodb()
        .call('GetItem', { TableName: 'body-marker' })
        .catch((e: unknown) => e)) as AwsServiceError;
      expect(error).toBeInstanceOf(AwsServiceError);
      expect(error.$metadata.httpStatusCode).toBe(307);
      expect(server.received).toHaveLength(1); // a redirect is not retried either
      expect(elsewhere.received).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });

  it('goes to AWS_ENDPOINT_URL_KMS for KMS, else AWS_ENDPOINT_URL, else the regional endpoint', async () => {
    const kms = (extra: Record<string, string | undefined>, fetchImpl?: typeof fetch) =>
      createAwsJsonClient({
        service: 'kms',
        targetPrefix: 'TrentService',
        contentType: 'application/x-amz-json-1.1',
        env: { ...env(extra), AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9/' },
        ...(fetchImpl ? { fetch: fetchImpl } : {}),
      });
    await kms({ AWS_ENDPOINT_URL_KMS: server.url }).call('GetPublicKey', { KeyId: 'k' });
    await kms({ AWS_ENDPOINT_URL: server.url }).call('GetPublicKey', { KeyId: 'k' });
    expect(server.received.map((r) => r.headers['x-amz-target'])).toEqual([
      'TrentService.GetPublicKey',
      'TrentService.GetPublicKey',
    ]);
    expect(server.received[0]!.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(String(server.received[0]!.headers.authorization)).toContain('/eu-west-1/kms/aws4_request');

    // No endpoint variable: the regional endpoint (seen by a stand-in fetch; nothing leaves the machine).
    const urls: string[] = [];
    const recordingFetch: typeof fetch = async (input) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return new Response('{}', { status: 200 });
    };
    await kms({}, recordingFetch).call('GetPublicKey', {});
    await kms({ AWS_REGION: 'cn-north-1' }, recordingFetch).call('GetPublicKey', {});
    expect(urls).toEqual([
      'https://kms.eu-west-1.amazonaws.com/',
      'https://kms.cn-north-1.amazonaws.com.cn/',
    ]);
  });
});

describe('KMS and Secrets Manager over signed fetch', () => {
  const dataKey = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  const ciphertext = Uint8Array.from({ length: 256 }, (_, i) => 255 - i); // every byte value
  const publicKey = Uint8Array.from([
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
  ]);
  const signature = Uint8Array.from([0x30, 0x44, 0x02, 0x20, 0xff, 0xfe, 0x00, 0x01]);
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  let aws: AwsStandIn;
  let env: Record<string, string>;

  beforeAll(async () => {
    aws = await startAwsStandIn({
      'TrentService.GenerateDataKey': () => ({
        output: {
          Plaintext: b64(dataKey),
          CiphertextBlob: b64(ciphertext),
          KeyId: 'arn:aws:kms:eu-west-1:1:key/k',
        },
      }),
      'TrentService.Decrypt': (input) =>
        input.CiphertextBlob === b64(ciphertext)
          ? { output: { Plaintext: b64(dataKey), KeyId: 'k' } }
          : { error: 'InvalidCiphertextException', message: 'not this key' },
      'TrentService.Sign': (input) =>
        input.Message === b64(dataKey)
          ? { output: { Signature: b64(signature), KeyId: 'k' } }
          : { error: 'ValidationException', message: 'unexpected message' },
      'TrentService.GetPublicKey': () => ({ output: { PublicKey: b64(publicKey), KeyId: 'k' } }),
      'secretsmanager.GetSecretValue': (input) =>
        input.SecretId === 'arn:empty'
          ? { output: { ARN: 'arn:empty', SecretString: '' } }
          : { output: { ARN: input.SecretId, SecretString: 'sealing-secret-value' } },
    });
    env = {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      AWS_ENDPOINT_URL_KMS: aws.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    };
  });
  afterAll(async () => {
    await aws.close();
  });

  it('sends and receives KMS blobs as base64 on the wire and Uint8Array in code', async () => {
    const kms = createFetchKms({ env });
    const generated = await kms.generateDataKey({
      KeyId: 'k',
      KeySpec: 'AES_256',
      EncryptionContext: { a: 'b' },
    });
    expect(generated.Plaintext).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(generated.Plaintext!).equals(Buffer.from(dataKey))).toBe(true);
    expect(Buffer.from(generated.CiphertextBlob!).equals(Buffer.from(ciphertext))).toBe(true);
    expect(generated.KeyId).toBe('arn:aws:kms:eu-west-1:1:key/k');

    const decrypted = await kms.decrypt({
      CiphertextBlob: ciphertext,
      EncryptionContext: { a: 'b' },
      KeyId: 'k',
    });
    expect([...decrypted.Plaintext!]).toEqual([...dataKey]);
    // A Buffer slice with an offset is encoded as its own bytes only.
    const padded = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(ciphertext)]).subarray(3);
    await expect(kms.decrypt({ CiphertextBlob: padded })).resolves.toMatchObject({
      Plaintext: expect.any(Uint8Array),
    });

    const signed = await kms.sign({
      KeyId: 'k',
      Message: dataKey,
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    expect([...signed.Signature!]).toEqual([...signature]);
    const key = await kms.getPublicKey({ KeyId: 'k' });
    expect([...key.PublicKey!]).toEqual([...publicKey]);

    const decryptCall = aws.calls.find((c) => c.target === 'TrentService.Decrypt');
    expect(decryptCall?.input).toEqual({
      CiphertextBlob: b64(ciphertext),
      EncryptionContext: { a: 'b' },
      KeyId: 'k',
    });
    expect(aws.calls.find((c) => c.target === 'TrentService.Sign')?.input).toMatchObject({
      Message: b64(dataKey),
      MessageType: 'DIGEST',
    });
  });

  it('names KMS refusals as the SDK does (the vault cipher tells them from outages by name)', async () => {
    const kms = createFetchKms({ env });
    await expect(kms.decrypt({ CiphertextBlob: new Uint8Array([1, 2, 3]) })).rejects.toMatchObject({
      name: 'InvalidCiphertextException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('reads a SecretString and refuses an empty secret', async () => {
    const secrets = createFetchSecrets({ env });
    await expect(secrets.getSecretValue('arn:sealing')).resolves.toBe('sealing-secret-value');
    await expect(secrets.getSecretValue('arn:empty')).rejects.toThrow(
      'the secret arn:empty has no SecretString',
    );
    expect(aws.calls.filter((c) => c.target === 'secretsmanager.GetSecretValue').map((c) => c.input)).toEqual(
      [{ SecretId: 'arn:sealing' }, { SecretId: 'arn:empty' }],
    );
  });
});
