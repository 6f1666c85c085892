import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Table } from '../core/store/table.ts';

/**
 * The stores' table over the AWS SDK's DocumentClient (login, connect, callback, authorization and
 * the tests' fixtures). Undefined attributes are left out, as the stores expect.
 */
export function documentClientTable(client: DynamoDBClient): Table {
  const ddb = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    get: (input, options) => ddb.send(new GetCommand(input), options),
    put: (input, options) => ddb.send(new PutCommand(input), options),
    update: (input, options) => ddb.send(new UpdateCommand(input), options),
    delete: (input, options) => ddb.send(new DeleteCommand(input), options),
    query: (input, options) => ddb.send(new QueryCommand(input), options),
  };
}
