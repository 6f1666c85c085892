import type { LocalGateway } from '../../../functions/local/gateway.ts';
import { observeTable } from '../../support/table-observer.ts';

export interface TableCalls {
  /** DynamoDB operations called since the last reset, by name. */
  readonly byOperation: Map<string, number>;
  count(): number;
  reset(): void;
}

/**
 * Counts every DynamoDB call of the local gateway's functions: the proxy's signed-fetch table
 * client, observed directly, and the AWS SDK client the other functions share, from the first
 * middleware step on (lib-dynamodb shares the client's middleware stack).
 */
export function countTableCalls(gateway: LocalGateway): TableCalls {
  const byOperation = new Map<string, number>();
  const seen = (operation: string) => byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
  observeTable(gateway.proxyTable, seen);
  gateway.dynamo.client.middlewareStack.add(
    (next, context) => (args) => {
      seen((context.commandName ?? 'unknown').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'mcpEdgeBenchTableCalls' },
  );
  return {
    byOperation,
    count: () => [...byOperation.values()].reduce((a, b) => a + b, 0),
    reset: () => byOperation.clear(),
  };
}

export function describeCalls(calls: TableCalls): string {
  return calls.count() === 0 ? 'none' : [...calls.byOperation].map(([name, n]) => `${n}× ${name}`).join(', ');
}
