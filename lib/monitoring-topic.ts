import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlarmNotificationsProps {
  /** The deployment's name, shown in the topic's display name. */
  readonly service: string;
  /** Subscribe this address to a topic the construct creates. @default no topic is created */
  readonly email?: string;
  /** Existing topics in this stack's region to notify as well. @default none */
  readonly topicArns?: readonly string[];
}

/**
 * Where one stack's alarms send their state changes: a topic created here with an email
 * subscription (when an address is configured) and any existing topics of this region. CloudWatch
 * notifies only topics in the alarm's own region, so each region with alarms has its own.
 *
 * A created topic is encrypted with its own customer-managed key: the AWS managed SNS key cannot
 * be used, because its policy cannot be changed to let CloudWatch encrypt the messages it
 * publishes. The key and the topic policy let CloudWatch publish for this account's alarms only.
 */
export class AlarmNotifications extends Construct {
  /** The created topic, when an email address is configured. */
  public readonly topic: Topic | undefined;
  /** The alarm actions: publish to each topic. Empty when nothing is configured. */
  public readonly actions: readonly IAlarmAction[];

  constructor(scope: Construct, id: string, props: AlarmNotificationsProps) {
    super(scope, id);
    const actions: IAlarmAction[] = (props.topicArns ?? []).map(
      (arn, index) => new SnsAction(Topic.fromTopicArn(this, `Configured${index}`, arn)),
    );

    if (props.email) {
      const { account, region, partition } = Stack.of(this);
      const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
      const key = new Key(this, 'Key', {
        description: `MCP Edge (${props.service}): encrypts the alarm notification topic`,
        enableKeyRotation: true,
        // Nothing outlives the messages in flight; the key goes with the topic.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // CloudWatch encrypts what it publishes to the topic with this key (SNS server-side encryption).
      key.addToResourcePolicy(
        new PolicyStatement({
          principals: [cloudWatch],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
        }),
      );
      const topic = new Topic(this, 'Topic', {
        displayName: `MCP Edge alarms (${props.service})`,
        masterKey: key,
        enforceSSL: true,
      });
      topic.addToResourcePolicy(
        new PolicyStatement({
          principals: [cloudWatch],
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
          conditions: {
            StringEquals: { 'aws:SourceAccount': account },
            ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
          },
        }),
      );
      topic.addSubscription(new EmailSubscription(props.email));
      this.topic = topic;
      actions.push(new SnsAction(topic));
    } else {
      this.topic = undefined;
    }
    this.actions = actions;
  }
}
