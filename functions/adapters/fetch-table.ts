import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, type NativeAttributeValue, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Table, TableCallOptions, TableItem } from '../core/store/table.ts';
import { type AwsJsonConnection, createAwsJsonClient, type JsonObject } from './aws-json.ts';

/**
 * The stores' table over signed fetch (aws-json.ts), for the proxy Lambda: the SDK's DynamoDB
 * client and DocumentClient are most of the proxy's bundle and init time. It takes and returns
 * the same plain values as the DocumentClient (document-client-table.ts, every other function),
 * with the same marshalling: undefined values removed, numbers as JavaScript numbers.
 */

/** The DocumentClient's option in every function (services.ts, proxy-lambda.ts). */
const MARSHALL_OPTIONS = { removeUndefinedValues: true } as const;

/** Input fields holding plain values; everything else goes to DynamoDB as it is. */
const INPUT_MAPS = ['Key', 'Item', 'ExpressionAttributeValues', 'ExclusiveStartKey'] as const;
/** Output fields holding one item. */
const OUTPUT_MAPS = ['Item', 'Attributes', 'LastEvaluatedKey'] as const;

type Convert = (binary: unknown) => unknown;

/**
 * DynamoDB's JSON wire carries binary (`B`, `BS`) as base64, where marshall and unmarshall speak
 * Uint8Array (in the SDK its serializer does this step), so each attribute value is walked once.
 */
function convertValue(value: unknown, convert: Convert): unknown {
  const av = value as { B?: unknown; BS?: unknown[]; L?: unknown[]; M?: Record<string, unknown> };
  if (av.B !== undefined) return { B: convert(av.B) };
  if (av.BS !== undefined) return { BS: av.BS.map(convert) };
  if (av.L !== undefined) return { L: av.L.map((item) => convertValue(item, convert)) };
  if (av.M !== undefined) return { M: convertMap(av.M, convert) };
  return value;
}

function convertMap(map: Record<string, unknown>, convert: Convert): Record<string, unknown> {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, convertValue(value, convert)]));
}

const toBase64: Convert = (binary) => {
  if (ArrayBuffer.isView(binary)) {
    return Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength).toString('base64');
  }
  if (binary instanceof ArrayBuffer) return Buffer.from(binary).toString('base64');
  throw new TypeError('binary attributes must be an ArrayBuffer or a typed array (a Blob is not supported)');
};

/** A plain Uint8Array, as the SDK returns binary attributes. */
const fromBase64: Convert = (text) => {
  const buffer = Buffer.from(String(text), 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
};

function toWire(input: object): JsonObject {
  const request: JsonObject = { ...input };
  for (const field of INPUT_MAPS) {
    const value = request[field];
    if (value === undefined) continue;
    const marshalled = marshall(value as Record<string, NativeAttributeValue>, MARSHALL_OPTIONS);
    request[field] = convertMap(marshalled, toBase64);
  }
  return request;
}

function itemFromWire(item: unknown): TableItem {
  return unmarshall(
    convertMap(item as Record<string, unknown>, fromBase64) as Record<string, AttributeValue>,
  );
}

function fromWire(output: JsonObject): JsonObject {
  const result: JsonObject = { ...output };
  for (const field of OUTPUT_MAPS) {
    if (result[field] !== undefined) result[field] = itemFromWire(result[field]);
  }
  if (Array.isArray(result.Items)) result.Items = result.Items.map(itemFromWire);
  return result;
}

/** As in the SDK, a refusal with ReturnValuesOnConditionCheckFailure carries the item, marshalled. */
function withBinaryItem(error: unknown): unknown {
  if (error instanceof Error && 'Item' in error && error.Item && typeof error.Item === 'object') {
    error.Item = convertMap(error.Item as Record<string, unknown>, fromBase64);
  }
  return error;
}

export function createFetchTable(options: AwsJsonConnection = {}): Table {
  const dynamodb = createAwsJsonClient({
    ...options,
    service: 'dynamodb',
    targetPrefix: 'DynamoDB_20120810',
    contentType: 'application/x-amz-json-1.0',
  });
  // The outputs are DynamoDB's, unmarshalled: the shapes the Table interface names.
  const send = async <T>(operation: string, input: object, callOptions?: TableCallOptions) => {
    const output = await dynamodb.call(operation, toWire(input), callOptions).catch((error: unknown) => {
      throw withBinaryItem(error);
    });
    return fromWire(output) as T;
  };
  return {
    get: (input, o) => send('GetItem', input, o),
    put: (input, o) => send('PutItem', input, o),
    update: (input, o) => send('UpdateItem', input, o),
    delete: (input, o) => send('DeleteItem', input, o),
    query: (input, o) => send('Query', input, o),
  };
}
