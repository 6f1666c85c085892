import { Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IAlarmAction,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { EdgeWebAcl } from './waf.ts';

/** The namespace of the functions' own metrics (Powertools, EMF); each carries the dimension {service}. */
export const METRICS_NAMESPACE = 'McpEdge';

/** The service name (metric dimension, alarm and dashboard names) when the config names no deployment. */
export const DEFAULT_SERVICE_NAME = 'mcp-edge';

/** Every alarm evaluates five-minute periods. */
const PERIOD = Duration.minutes(5);

/**
 * The alarms' thresholds (the proxy latency's comes from the config, `alarms.proxyLatencyP99Ms`).
 * README.md "Operations" says what each alarm means and what to do.
 */
export const ALARM_THRESHOLDS = {
  /** Share of API Gateway answers that are 5xx, in percent, in 2 of 3 periods... */
  apiServerErrorPercent: 5,
  /** ...counted only in periods with at least this many requests (a lone 502 is no rate). */
  apiServerErrorMinimumRequests: 20,
  /** Failed invocations of one function (uncaught errors, timeouts, crashes) in a period. */
  functionErrors: 1,
  /** Invocations of one function Lambda refused for want of concurrency, in a period. */
  functionThrottles: 1,
  /** Read plus write throttle events on the table in a period. */
  tableThrottleEvents: 1,
  /** Upstream token refreshes that failed, in a period. */
  refreshFailures: 5,
  /** Requests AWS WAF blocked (all rules) in a period. */
  wafBlockedRequests: 100,
} as const;

/** The alarms, by the suffix of their name (`{service}-{suffix}`); a function's carry its name. */
export type AlarmKey =
  | 'api-5xx-rate'
  | `${string}-errors`
  | `${string}-throttles`
  | 'table-throttles'
  | 'refresh-failures'
  | 'proxy-latency-p99';

export interface GatewayMonitoringProps {
  /** The deployment's service name: the {service} dimension of the functions' metrics. */
  readonly service: string;
  readonly api: RestApi;
  /** The gateway's functions by function name. */
  readonly functions: ReadonlyMap<string, IFunction>;
  readonly table: ITable;
  /** The web ACL in us-east-1, graphed on the dashboard (its alarm lives in its own stack). */
  readonly webAcl: EdgeWebAcl;
  /** The proxy's p99 latency above which its alarm fires, in milliseconds. */
  readonly proxyLatencyP99Ms: number;
  /** Where every alarm sends its state changes. */
  readonly actions: readonly IAlarmAction[];
}

/**
 * The gateway's CloudWatch alarms and its dashboard, in the gateway's region: API Gateway's 5xx
 * rate, each function's errors and throttles, table throttling, failed upstream token refreshes
 * and the proxy's p99 latency. Alarms treat missing data as fine (an idle gateway is healthy) and
 * notify on entering ALARM and on returning to OK.
 */
export class GatewayMonitoring extends Construct {
  public readonly alarms: ReadonlyMap<AlarmKey, Alarm>;
  public readonly dashboard: Dashboard;
  private readonly service: string;

  constructor(scope: Construct, id: string, props: GatewayMonitoringProps) {
    super(scope, id);
    this.service = props.service;
    const alarms = new Map<AlarmKey, Alarm>();
    const add = (
      key: AlarmKey,
      metric: IMetric,
      threshold: number,
      description: string,
      options: { evaluationPeriods?: number; datapointsToAlarm?: number; greaterThan?: boolean } = {},
    ) => {
      const alarm = new Alarm(this, `Alarm-${key}`, {
        alarmName: `${props.service}-${key}`,
        alarmDescription: `MCP Edge (${props.service}): ${description} See README.md, Operations.`,
        metric,
        threshold,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        datapointsToAlarm: options.datapointsToAlarm ?? options.evaluationPeriods ?? 1,
        comparisonOperator: options.greaterThan
          ? ComparisonOperator.GREATER_THAN_THRESHOLD
          : ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      for (const action of props.actions) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
      alarms.set(key, alarm);
    };

    const sum = { statistic: 'Sum', period: PERIOD };
    const serverErrors = props.api.metricServerError(sum);
    const requests = props.api.metricCount(sum);
    const minimum = ALARM_THRESHOLDS.apiServerErrorMinimumRequests;
    add(
      'api-5xx-rate',
      new MathExpression({
        expression: `IF(requests >= ${minimum}, 100 * FILL(errors, 0) / requests, 0)`,
        usingMetrics: { errors: serverErrors, requests },
        period: PERIOD,
        label: '5xx answers (% of requests)',
      }),
      ALARM_THRESHOLDS.apiServerErrorPercent,
      `at least ${ALARM_THRESHOLDS.apiServerErrorPercent}% of API Gateway answers were 5xx in 2 of 3 five-minute periods (with ${minimum} requests or more).`,
      { evaluationPeriods: 3, datapointsToAlarm: 2 },
    );

    for (const [name, fn] of props.functions) {
      add(
        `${name}-errors`,
        fn.metricErrors(sum),
        ALARM_THRESHOLDS.functionErrors,
        `the ${name} function failed (uncaught error, timeout or crash) in the last five minutes.`,
      );
      add(
        `${name}-throttles`,
        fn.metricThrottles(sum),
        ALARM_THRESHOLDS.functionThrottles,
        `Lambda throttled invocations of the ${name} function (no concurrency left) in the last five minutes.`,
      );
    }

    add(
      'table-throttles',
      new MathExpression({
        expression: 'FILL(reads, 0) + FILL(writes, 0)',
        usingMetrics: {
          reads: props.table.metric('ReadThrottleEvents', sum),
          writes: props.table.metric('WriteThrottleEvents', sum),
        },
        period: PERIOD,
        label: 'Table throttle events',
      }),
      ALARM_THRESHOLDS.tableThrottleEvents,
      'DynamoDB throttled reads or writes of the gateway table in the last five minutes.',
    );

    add(
      'refresh-failures',
      this.metric('RefreshFailures', 'Sum'),
      ALARM_THRESHOLDS.refreshFailures,
      `${ALARM_THRESHOLDS.refreshFailures} or more upstream token refreshes failed in the last five minutes.`,
    );

    add(
      'proxy-latency-p99',
      this.metric('ProxyLatency', 'p99'),
      props.proxyLatencyP99Ms,
      `the MCP proxy's p99 latency (request received to response headers sent) was over ${props.proxyLatencyP99Ms} ms for fifteen minutes.`,
      { evaluationPeriods: 3, greaterThan: true },
    );
    this.alarms = alarms;

    this.dashboard = this.buildDashboard(props, [...alarms.values()]);
  }

  /** One of the functions' own metrics (namespace {@link METRICS_NAMESPACE}, dimension {service}). */
  metric(metricName: string, statistic: string): Metric {
    return new Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: this.service },
      statistic,
      period: PERIOD,
    });
  }

  private buildDashboard(props: GatewayMonitoringProps, alarms: Alarm[]): Dashboard {
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width: 8, height: 6 });
    const functions = [...props.functions];
    const perFunction = (metric: (fn: IFunction) => Metric) =>
      functions.map(([name, fn]) => metric(fn).with({ label: name }));
    const labelled = (metric: Metric, label: string) => metric.with({ label });
    const sum = { statistic: 'Sum', period: PERIOD };

    return new Dashboard(this, 'Dashboard', {
      dashboardName: props.service,
      defaultInterval: Duration.hours(6),
      widgets: [
        [new AlarmStatusWidget({ title: 'Alarms', alarms, width: 24, height: 4 })],
        [
          graph('MCP calls, tokens issued, refusals', [
            labelled(this.metric('ProxiedCalls', 'Sum'), 'ProxiedCalls'),
            labelled(this.metric('TokensIssued', 'Sum'), 'TokensIssued'),
            labelled(this.metric('Refusals', 'Sum'), 'Refusals'),
          ]),
          graph('Proxy and upstream latency (ms)', [
            labelled(this.metric('ProxyLatency', 'p50'), 'ProxyLatency p50'),
            labelled(this.metric('ProxyLatency', 'p99'), 'ProxyLatency p99'),
            labelled(this.metric('UpstreamLatency', 'p50'), 'UpstreamLatency p50'),
            labelled(this.metric('UpstreamLatency', 'p99'), 'UpstreamLatency p99'),
          ]),
          graph('Upstream errors and token refreshes', [
            labelled(this.metric('UpstreamErrors', 'Sum'), 'UpstreamErrors'),
            labelled(this.metric('Refreshes', 'Sum'), 'Refreshes'),
            labelled(this.metric('RefreshFailures', 'Sum'), 'RefreshFailures'),
          ]),
        ],
        [
          graph(
            'API Gateway requests and errors',
            [
              labelled(props.api.metricCount(sum), 'Requests'),
              labelled(props.api.metricClientError(sum), '4xx'),
              labelled(props.api.metricServerError(sum), '5xx'),
            ],
            [labelled(props.api.metricLatency({ statistic: 'p99', period: PERIOD }), 'Latency p99 (ms)')],
          ),
          graph(
            'Function errors',
            perFunction((fn) => fn.metricErrors(sum)),
          ),
          graph(
            'Function throttles',
            perFunction((fn) => fn.metricThrottles(sum)),
          ),
        ],
        [
          graph(
            'Function duration p99 (ms)',
            perFunction((fn) => fn.metricDuration({ statistic: 'p99', period: PERIOD })),
          ),
          graph(
            'Table throttle events and consumed capacity',
            [
              labelled(props.table.metric('ReadThrottleEvents', sum), 'Read throttle events'),
              labelled(props.table.metric('WriteThrottleEvents', sum), 'Write throttle events'),
            ],
            [
              labelled(props.table.metricConsumedReadCapacityUnits(sum), 'Read capacity units'),
              labelled(props.table.metricConsumedWriteCapacityUnits(sum), 'Write capacity units'),
            ],
          ),
          graph('AWS WAF (us-east-1): allowed, blocked, counted', [
            labelled(props.webAcl.metricAllowedRequests(), 'Allowed'),
            labelled(props.webAcl.metricBlockedRequests(), 'Blocked'),
            labelled(props.webAcl.metricCountedRequests(), 'Counted (rules set to count)'),
          ]),
        ],
      ],
    });
  }
}
