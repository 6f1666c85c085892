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
 * services is observed too). For the proxy's signed-fetch table, which the SDK client's middleware
 * does not see.
 */
export function observeTable(table: Table, onCall: (operation: string) => void): void {
  for (const [method, operation] of Object.entries(TABLE_OPERATIONS)) {
    const key = method as keyof typeof TABLE_OPERATIONS;
    const original = table[key].bind(table) as (...args: unknown[]) => Promise<never>;
    Object.defineProperty(table, key, {
      value: (...args: unknown[]) => {
        onCall(operation);
        return original(...args);
      },
      configurable: true,
      writable: true,
    });
  }
}
