import type {
  DeleteCommandInput,
  GetCommandInput,
  PutCommandInput,
  QueryCommandInput,
  UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';

/**
 * The one DynamoDB table (state records, sessions, token vault, caches). The CDK stack and
 * the local gateway both create it from this definition, so keys and the TTL attribute
 * cannot drift apart.
 */
export const TABLE_DEFINITION = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB's TTL deletes the item some time after it passes. */
  ttlAttribute: 'ttl',
} as const;

/** The CreateTable input for DynamoDB Local (on-demand, same keys as in AWS). */
export function createTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: TABLE_DEFINITION.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE_DEFINITION.sortKey, AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: TABLE_DEFINITION.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE_DEFINITION.sortKey, KeyType: 'RANGE' as const },
    ],
  };
}

/** A stored item as the stores see it: attribute names to plain JavaScript values (as the DocumentClient gives them). */
export type TableItem = Record<string, NativeAttributeValue>;

/** Per-call options: an abort signal that ends the call (and its retry) early. */
export interface TableCallOptions {
  readonly abortSignal?: AbortSignal;
}

/**
 * The five DynamoDB operations the stores use, on plain JavaScript values (the DocumentClient's
 * input shapes: `Key`, `ConditionExpression`, `ExpressionAttributeValues` …). A refused
 * `ConditionExpression` rejects with an error named `ConditionalCheckFailedException`
 * (`isConditionFailure`). Two implementations: the AWS SDK's DocumentClient
 * (functions/adapters/document-client-table.ts) and a signed-fetch client for the proxy, whose
 * bundle must stay small (functions/adapters/fetch-table.ts).
 */
export interface Table {
  get(input: GetCommandInput, options?: TableCallOptions): Promise<{ Item?: TableItem }>;
  put(input: PutCommandInput, options?: TableCallOptions): Promise<{ Attributes?: TableItem }>;
  update(input: UpdateCommandInput, options?: TableCallOptions): Promise<{ Attributes?: TableItem }>;
  delete(input: DeleteCommandInput, options?: TableCallOptions): Promise<{ Attributes?: TableItem }>;
  query(
    input: QueryCommandInput,
    options?: TableCallOptions,
  ): Promise<{ Items?: TableItem[]; LastEvaluatedKey?: TableItem }>;
}
