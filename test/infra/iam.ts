import type { Template } from 'aws-cdk-lib/assertions';

/** An IAM policy statement as it appears in the template. */
export interface Statement {
  readonly Effect?: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

export interface FunctionResource {
  readonly logicalId: string;
  readonly properties: {
    readonly Role: { 'Fn::GetAtt': [string, string] };
    readonly Environment: { Variables: Record<string, unknown> };
    readonly LoggingConfig: { LogGroup: { Ref: string } };
  } & Record<string, unknown>;
}

/** The one gateway function whose description is `MCP Edge: <name>`; throws unless exactly one. */
export function functionNamed(template: Template, name: string): FunctionResource {
  const found = Object.entries(
    template.findResources('AWS::Lambda::Function', { Properties: { Description: `MCP Edge: ${name}` } }),
  );
  if (found.length !== 1) throw new Error(`expected one ${name} function, found ${found.length}`);
  const [logicalId, resource] = found[0]!;
  return { logicalId, properties: (resource as { Properties: FunctionResource['properties'] }).Properties };
}

/** Every statement of every inline policy attached to a function's role. */
export function roleStatements(template: Template, name: string): Statement[] {
  const roleId = functionNamed(template, name).properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .map(
      (p) => (p as { Properties: { Roles: unknown; PolicyDocument: { Statement: Statement[] } } }).Properties,
    )
    .filter((p) => JSON.stringify(p.Roles).includes(`"${roleId}"`))
    .flatMap((p) => p.PolicyDocument.Statement);
}

export const actionsOf = (statement: Statement): string[] => [statement.Action].flat();

/** The resources of the statements that allow an action, flattened. */
export function resourcesAllowed(statements: readonly Statement[], action: string): unknown[] {
  return statements.filter((st) => actionsOf(st).includes(action)).flatMap((st) => [st.Resource].flat());
}

const CONTEXT_PREFIX = 'kms:EncryptionContext:';

/**
 * Whether a statement's conditions let a KMS request with this encryption context through,
 * evaluated the way IAM does for the operators the vault statements use (`ForAllValues:StringEquals`
 * on `kms:EncryptionContextKeys`, `Null`, `StringEquals` and `StringNotEquals` on
 * `kms:EncryptionContext:<key>`).
 * Any other operator or key throws, so a new condition cannot pass unexamined.
 */
export function allowsEncryptionContext(
  statement: Statement,
  context: Readonly<Record<string, string>>,
): boolean {
  const list = (value: unknown) => [value].flat().map(String);
  for (const [operator, entries] of Object.entries(statement.Condition ?? {})) {
    for (const [key, value] of Object.entries(entries)) {
      if (operator === 'ForAllValues:StringEquals' && key === 'kms:EncryptionContextKeys') {
        if (!Object.keys(context).every((k) => list(value).includes(k))) return false;
      } else if (operator === 'Null' && key.startsWith(CONTEXT_PREFIX)) {
        const present = key.slice(CONTEXT_PREFIX.length) in context;
        if (present !== (value === 'false')) return false;
      } else if (operator === 'StringEquals' && key.startsWith(CONTEXT_PREFIX)) {
        const actual = context[key.slice(CONTEXT_PREFIX.length)];
        if (actual === undefined || !list(value).includes(actual)) return false;
      } else if (operator === 'StringNotEquals' && key.startsWith(CONTEXT_PREFIX)) {
        // IAM: true when the key is absent or its value is none of the listed ones.
        const actual = context[key.slice(CONTEXT_PREFIX.length)];
        if (actual !== undefined && list(value).includes(actual)) return false;
      } else {
        throw new Error(`condition ${operator} on ${key} is not modelled here`);
      }
    }
  }
  return true;
}

/**
 * Whether a role's statements allow one table item operation (`dynamodb:GetItem`, …) on an item
 * whose partition key is `pk`, evaluated the way IAM does for the one condition the table
 * statements use (`ForAllValues:StringLike` on `dynamodb:LeadingKeys`, `*` as the only wildcard).
 * Statements on other resources are skipped; any other condition throws.
 */
export function allowsTableCall(
  statements: readonly Statement[],
  table: unknown,
  action: string,
  pk: string,
): boolean {
  const like = (pattern: string) =>
    new RegExp(
      `^${pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
  return statements.some((statement) => {
    if (!actionsOf(statement).includes(action)) return false;
    if (JSON.stringify([statement.Resource].flat()) !== JSON.stringify([table])) return false;
    return Object.entries(statement.Condition ?? {}).every(([operator, entries]) =>
      Object.entries(entries).every(([key, value]) => {
        if (operator !== 'ForAllValues:StringLike' || key !== 'dynamodb:LeadingKeys') {
          throw new Error(`condition ${operator} on ${key} is not modelled here`);
        }
        return [value].flat().some((pattern) => like(String(pattern)).test(pk));
      }),
    );
  });
}
