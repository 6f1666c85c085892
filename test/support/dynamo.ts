import { randomBytes } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { documentClientTable } from '../../functions/adapters/document-client-table.ts';
import { createRecordMac, type RecordMac } from '../../functions/core/store/record-mac.ts';
import type { Table } from '../../functions/core/store/table.ts';
import { type DynamoLocal, startDynamoLocal } from '../../functions/local/dynamo.ts';
import { observeTable } from './table-observer.ts';

export interface DynamoFixture {
  /** The stores' table client on the instance (the DocumentClient kind the handlers but the proxy get). */
  readonly table: Table;
  /** A raw DocumentClient on the instance, for tests that inspect or plant items. */
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
  let table: Table | undefined;
  beforeAll(async () => {
    local = await startDynamoLocal();
    ddb = DynamoDBDocumentClient.from(local.client);
    table = documentClientTable(local.client);
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
    get table() {
      return started(table);
    },
    get tableName() {
      return started(local).tableName;
    },
    get local() {
      return started(local);
    },
  };
}

/** Counts the calls a table client makes from now on: `count()` since, `restore()` to stop. */
export function spyOnTable(table: Table): { count(): number; restore(): void } {
  let calls = 0;
  const restore = observeTable(table, () => {
    calls++;
  });
  return { count: () => calls, restore };
}
