import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_DEFINITION } from '../functions/core/store/table.ts';

/**
 * The one DynamoDB table (OAuth state, sessions, the token vault) and the customer-managed KMS key
 * that encrypts it, built from the same {@link TABLE_DEFINITION} the local gateway uses. The same
 * key seals the vault's per-item data keys; IAM keeps the two uses apart (table access only
 * through DynamoDB, vault access only under the vault's encryption context).
 *
 * Both are retained when the stack is deleted and the table has deletion protection: they hold
 * users' upstream tokens, and losing them forces every user to sign in again.
 */
export class GatewayTable extends Construct {
  public readonly table: Table;
  public readonly key: Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.key = new Key(this, 'Key', {
      description: 'MCP Edge: encrypts the gateway table and the token vault data keys',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_DEFINITION.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_DEFINITION.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE_DEFINITION.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
