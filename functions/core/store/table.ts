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
