import { randomBytes } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { createRecordMac, type RecordMac } from '../../functions/core/store/record-mac.ts';
import { type DynamoLocal, startDynamoLocal } from '../../functions/local/dynamo.ts';

export interface DynamoFixture {
  /** A DocumentClient on the instance (the same kind the handlers get injected). */
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly local: DynamoLocal;
  /** The record authenticator the stores get (a fresh key per file, as each deployment has its own). */
  readonly records: RecordMac;
}

/**
 * One real DynamoDB Local per test file: started in `beforeAll`, stopped in `afterAll`. Call it
 * at the top of a file; read the fields inside tests and hooks (they exist once started).
 */
export function useDynamoLocal(): DynamoFixture {
  let local: DynamoLocal | undefined;
  let ddb: DynamoDBDocumentClient | undefined;
  beforeAll(async () => {
    local = await startDynamoLocal();
    ddb = DynamoDBDocumentClient.from(local.client);
  });
  afterAll(async () => {
    await local?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('DynamoDB Local is not started (use the fixture inside tests)');
    return value;
  };
  const records = createRecordMac(randomBytes(32));
  return {
    records,
    get ddb() {
      return started(ddb);
    },
    get tableName() {
      return started(local).tableName;
    },
    get local() {
      return started(local);
    },
  };
}
