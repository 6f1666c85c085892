import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface TableCalls {
  /** Commands sent since the last reset, by name. */
  readonly byCommand: Map<string, number>;
  count(): number;
  reset(): void;
}

/**
 * Counts every command sent on a DynamoDB client, document-client commands included (lib-dynamodb
 * shares the client's middleware stack), from the first middleware step on.
 */
export function countTableCalls(client: DynamoDBClient): TableCalls {
  const byCommand = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName ?? 'unknown';
      byCommand.set(name, (byCommand.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'mcpEdgeBenchTableCalls' },
  );
  return {
    byCommand,
    count: () => [...byCommand.values()].reduce((a, b) => a + b, 0),
    reset: () => byCommand.clear(),
  };
}

export function describeCalls(calls: TableCalls): string {
  return calls.count() === 0 ? 'none' : [...calls.byCommand].map(([name, n]) => `${n}× ${name}`).join(', ');
}
