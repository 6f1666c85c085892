import { Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { PROTECTION_DEFAULTS } from '../functions/core/config/schema.ts';
import type { Deployment } from './config-checks.ts';
import { CLOUDFRONT_CERTIFICATE_REGION } from './defaults.ts';
import { ALARM_THRESHOLDS } from './monitoring.ts';
import { AlarmNotifications } from './monitoring-topic.ts';
import { EdgeWebAcl } from './waf.ts';

export interface EdgeProtectionStackProps extends StackProps {
  readonly deployment: Deployment;
  /** The deployment's service name: the web ACL's name and the alarm's prefix. */
  readonly service: string;
  /** The paths of the endpoint table's `entry` rows. */
  readonly entryPointPaths: readonly string[];
}

/**
 * The AWS WAF web ACL every route's distribution uses, in us-east-1 (CloudFront takes web ACLs from
 * there only), with the alarm on the requests it blocks: CloudFront's web ACLs report their
 * metrics in us-east-1, and an alarm can only watch metrics of its own region. The gateway stack
 * reads the web ACL's ARN the way it reads the certificates' (`Fn::GetStackOutput`).
 *
 * The alarm notifies `alarms.edgeTopicArn`, `alarms.topicArn` when the gateway is in us-east-1
 * too, and a topic created here for `alarms.email`.
 */
export class EdgeProtectionStack extends Stack {
  public readonly webAcl: EdgeWebAcl;
  public readonly blockedRequestsAlarm: Alarm;
  public readonly notifications: AlarmNotifications;

  constructor(scope: Construct, id: string, props: EdgeProtectionStackProps) {
    const { deployment, service } = props;
    super(scope, id, {
      ...props,
      env: { account: deployment.account, region: CLOUDFRONT_CERTIFICATE_REGION },
      description: 'MCP Edge: the AWS WAF web ACL of the CloudFront distributions (us-east-1) and its alarm',
    });

    this.webAcl = new EdgeWebAcl(this, 'Protection', {
      name: service,
      requestsPerFiveMinutesPerIp:
        deployment.protection.requestsPerFiveMinutesPerIp ?? PROTECTION_DEFAULTS.requestsPerFiveMinutesPerIp,
      entryPointRequestsPerFiveMinutesPerIp:
        deployment.protection.entryPointRequestsPerFiveMinutesPerIp ??
        PROTECTION_DEFAULTS.entryPointRequestsPerFiveMinutesPerIp,
      entryPointPaths: props.entryPointPaths,
    });

    const { alarms } = deployment;
    const topicArns = new Set<string>();
    if (alarms.edgeTopicArn) topicArns.add(alarms.edgeTopicArn);
    if (alarms.topicArn && deployment.region === CLOUDFRONT_CERTIFICATE_REGION)
      topicArns.add(alarms.topicArn);
    this.notifications = new AlarmNotifications(this, 'AlarmNotifications', {
      service,
      ...(alarms.email ? { email: alarms.email } : {}),
      topicArns: [...topicArns],
    });

    const threshold = ALARM_THRESHOLDS.wafBlockedRequests;
    this.blockedRequestsAlarm = new Alarm(this, 'BlockedRequestsAlarm', {
      alarmName: `${service}-waf-blocked-requests`,
      alarmDescription: `MCP Edge (${service}): AWS WAF blocked ${threshold} or more requests to the route hosts in the last five minutes. See README.md, Operations.`,
      metric: this.webAcl.metricBlockedRequests(),
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const action of this.notifications.actions) {
      this.blockedRequestsAlarm.addAlarmAction(action);
      this.blockedRequestsAlarm.addOkAction(action);
    }
  }
}
