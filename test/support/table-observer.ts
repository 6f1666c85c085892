import type { Table } from '../../functions/core/store/table.ts';

/** DynamoDB's operation name for each table method. */
export const TABLE_OPERATIONS = {
  get: 'GetItem',
  put: 'PutItem',
  update: 'UpdateItem',
  delete: 'DeleteItem',
  query: 'Query',
} as const;

/**
 * Calls `onCall` with the DynamoDB operation of every call made through this table client from
 * now on (the stores look their table's methods up on each call, so a client already handed to
 * services is observed too), until the returned function puts the methods back. For the proxy's
 * signed-fetch table, which the SDK client's middleware does not see, and for counting a store's
 * calls in a test.
 */
export function observeTable(table: Table, onCall: (operation: string) => void): () => void {
  const originals = Object.keys(TABLE_OPERATIONS).map((method) => {
    const key = method as keyof typeof TABLE_OPERATIONS;
    return [key, table[key]] as const;
  });
  for (const [key, original] of originals) {
    const call = (original as (...args: unknown[]) => Promise<never>).bind(table);
    Object.defineProperty(table, key, {
      value: (...args: unknown[]) => {
        onCall(TABLE_OPERATIONS[key]);
        return call(...args);
      },
      configurable: true,
      writable: true,
    });
  }
  return () => {
    for (const [key, original] of originals) {
      Object.defineProperty(table, key, { value: original, configurable: true, writable: true });
    }
  };
}
