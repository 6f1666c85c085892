import { describe, expect, it } from 'vitest';
import { RECORD_KINDS, type RecordKind } from '../../functions/core/store/keys.ts';
import { REGISTRATION_USER } from '../../functions/core/store/registrations.ts';
import type { TableOperation } from '../../lib/function-settings.ts';
import {
  actionsOf,
  allowsEncryptionContext,
  allowsTableCall,
  functionNamed,
  resourcesAllowed,
  roleStatements,
} from './iam.ts';
import { readFixture, synthesize } from './synth.ts';

/**
 * The callback function's role holds what functions/callback (createCallbackApp → finishConnect)
 * calls, and nothing else (issue 9 item 7). Read from the code:
 *
 * - the sign-in session: `sessions.getSession` (GetItem);
 * - the state: `states.consumeState`, one conditional DeleteItem, and a GetItem to tell why one
 *   was refused (expired, other browser, user or route);
 * - the person's vault item: `vault.put`, one UpdateItem, its tokens sealed under a fresh KMS data
 *   key for (route, person, issuer) — the callback never reads tokens back;
 * - a dynamic registration: `registrations.get` (GetItem, and KMS Decrypt of its client secret,
 *   sealed for the registrations' pseudo-user) for the code exchange, and `registrations.forget`
 *   (a conditional DeleteItem) when the upstream answers `invalid_client`;
 * - the routes' configured upstream client secrets (Secrets Manager) for the code exchange, and
 *   the stack's sealing secret, which keys the table records' MACs and sealed state data.
 *
 * It never discovers (discovery#), registers (registration# writes), lists (Query), or touches
 * sign-in transactions or the authorization server's records.
 */
const USES: Readonly<Partial<Record<RecordKind, readonly TableOperation[]>>> = {
  session: ['GetItem'],
  state: ['GetItem', 'DeleteItem'],
  vault: ['UpdateItem'],
  registration: ['GetItem', 'DeleteItem'],
};
const OPERATIONS: readonly TableOperation[] = ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'];

const s = synthesize(readFixture('infra-three-routes.config.json'));
const template = s.gatewayTemplate;
const statements = roleStatements(template, 'callback');
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;
const idOf = (type: string, prefix: string) =>
  Object.keys(resources).find((id) => resources[id]!.Type === type && id.startsWith(prefix))!;
const TABLE = { 'Fn::GetAtt': [idOf('AWS::DynamoDB::Table', 'DataTable'), 'Arn'] };
const TABLE_KEY = { 'Fn::GetAtt': [idOf('AWS::KMS::Key', 'DataKey'), 'Arn'] };
const SEALING_SECRET = { Ref: idOf('AWS::SecretsManager::Secret', 'ProxySealing') };
const TOOLS_SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools-AbCdEf';
const ROUTES = ['https://mcp.example.com', 'https://docs.mcp.example.com', 'https://tools.example.org'];
const ISSUER = 'https://as.upstream.example.net';

describe('the callback function’s role', () => {
  it.each(RECORD_KINDS.flatMap((kind) => OPERATIONS.map((operation) => [kind, operation] as const)))(
    'allows %s items %s only if the callback calls it',
    (kind, operation) => {
      const allowed = allowsTableCall(statements, TABLE, `dynamodb:${operation}`, `${kind}#abc`);
      expect(allowed).toBe(USES[kind]?.includes(operation) ?? false);
    },
  );

  it('allows no table operation on an item whose key names no record kind', () => {
    for (const operation of OPERATIONS) {
      expect(allowsTableCall(statements, TABLE, `dynamodb:${operation}`, 'sessionx#abc')).toBe(false);
      expect(allowsTableCall(statements, TABLE, `dynamodb:${operation}`, 'other#abc')).toBe(false);
    }
  });

  it('seals a person’s tokens under a fresh data key, and never opens them', () => {
    const person = { route: ROUTES[0]!, user: 'https://login.example.com|alice', issuer: ISSUER };
    const seal = statements.filter((st) => actionsOf(st).includes('kms:GenerateDataKey'));
    const open = statements.filter((st) => actionsOf(st).includes('kms:Decrypt') && !viaDynamoDb(st));
    expect(seal.some((st) => allowsEncryptionContext(st, person))).toBe(true);
    expect(open.some((st) => allowsEncryptionContext(st, person))).toBe(false);
    // Another deployment's route, or a context with a key more or less: neither.
    for (const context of [
      { ...person, route: 'https://mcp.other.org' },
      { route: person.route, user: person.user },
      { ...person, purpose: 'x' },
    ]) {
      expect([...seal, ...open].some((st) => allowsEncryptionContext(st, context))).toBe(false);
    }
  });

  it('opens a dynamic registration’s client secret, and never seals one', () => {
    const registration = { route: ROUTES[2]!, user: REGISTRATION_USER, issuer: ISSUER };
    const seal = statements.filter((st) => actionsOf(st).includes('kms:GenerateDataKey'));
    const open = statements.filter((st) => actionsOf(st).includes('kms:Decrypt') && !viaDynamoDb(st));
    expect(open.some((st) => allowsEncryptionContext(st, registration))).toBe(true);
    expect(seal.some((st) => allowsEncryptionContext(st, registration))).toBe(false);
  });

  it('reads exactly the routes’ upstream client secrets and the sealing secret', () => {
    expect(resourcesAllowed(statements, 'secretsmanager:GetSecretValue')).toEqual(
      expect.arrayContaining([TOOLS_SECRET, SEALING_SECRET]),
    );
    expect(resourcesAllowed(statements, 'secretsmanager:GetSecretValue')).toHaveLength(2);
  });

  it('holds exactly these permissions: an unused one coming back fails here', () => {
    const logs = {
      'Fn::GetAtt': [functionNamed(template, 'callback').properties.LoggingConfig.LogGroup.Ref, 'Arn'],
    };
    // One line per action and resource, with the condition operators it carries (however CDK
    // groups statements: the pinned @aws-cdk/aws-iam:minimizePolicies merges and sorts them).
    const permissions = statements.flatMap((st) =>
      actionsOf(st).flatMap((action) =>
        [st.Resource].flat().map((resource) => ({
          action,
          resource,
          conditions: Object.keys(st.Condition ?? {}).sort(),
        })),
      ),
    );
    const vaultContext = ['ForAllValues:StringEquals', 'Null', 'StringEquals'];
    const expected = [
      { action: 'logs:CreateLogStream', resource: logs, conditions: [] },
      { action: 'logs:PutLogEvents', resource: logs, conditions: [] },
      // The record kinds and operations above (LeadingKeys conditions checked one by one there).
      ...['dynamodb:GetItem', 'dynamodb:GetItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'].map(
        (action) => ({ action, resource: TABLE, conditions: ['ForAllValues:StringLike'] }),
      ),
      // What DynamoDB needs from the caller for a table under a customer-managed key.
      ...['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'].map(
        (action) => ({ action, resource: TABLE_KEY, conditions: ['StringEquals'] }),
      ),
      {
        action: 'kms:GenerateDataKey',
        resource: TABLE_KEY,
        conditions: [...vaultContext, 'StringNotEquals'],
      },
      { action: 'kms:Decrypt', resource: TABLE_KEY, conditions: vaultContext },
      { action: 'secretsmanager:GetSecretValue', resource: TOOLS_SECRET, conditions: [] },
      { action: 'secretsmanager:GetSecretValue', resource: SEALING_SECRET, conditions: [] },
    ];
    const order = (list: readonly object[]) => list.map((p) => JSON.stringify(p)).sort();
    expect(order(permissions)).toEqual(order(expected));
  });

  it('reaches the table key for DynamoDB only through DynamoDB', () => {
    const table = statements.filter((st) => actionsOf(st).includes('kms:Encrypt'));
    expect(table).toHaveLength(1);
    expect(table[0]!.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 'dynamodb.eu-central-1.amazonaws.com' },
    });
  });
});

function viaDynamoDb(statement: { Condition?: Record<string, Record<string, unknown>> }): boolean {
  return Boolean(statement.Condition?.StringEquals && 'kms:ViaService' in statement.Condition.StringEquals);
}
