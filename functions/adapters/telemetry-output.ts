import { openSync, writeSync } from 'node:fs';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** CloudWatch namespace of every metric (POWERTOOLS_METRICS_NAMESPACE overrides; CDK sets it). */
export const DEFAULT_METRICS_NAMESPACE = 'McpEdge';
/** The `service` dimension and log field when POWERTOOLS_SERVICE_NAME is not set. */
export const DEFAULT_SERVICE_NAME = 'mcp-edge';

/** Where a function's log lines and EMF metric blobs go, and the Powertools objects that write them. */
export interface TelemetryOutput {
  readonly logger: Logger;
  /** Every metric of the request, dimensions {service}; flushed at the end of each invocation. */
  readonly metrics: Metrics;
  /** `RefusalsByCode`, dimensions {service, code}: one blob per refusal. */
  readonly byCode: Metrics;
}

/** One line per call: to stdout (Lambda sends it to the log group), or to the MCP_EDGE_LOG_FILE file. */
type LineWriter = (line: string) => void;
let fileSink: LineWriter | undefined;

function openFileSink(path: string): LineWriter {
  const fd = openSync(path, 'a');
  return (line) => {
    writeSync(fd, `${line}\n`);
  };
}

const stdout: LineWriter = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * Powertools' Logger writing its JSON line straight to the sink. Its own printing goes through a
 * `Console` and a replacer that guards against circular values, BigInts and Errors, which the
 * request lines never hold (plain strings and numbers only, errors already described): about
 * three times the cost of the line itself, on every proxied call.
 */
class GatewayLogger extends Logger {
  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    (fileSink ?? stdout)(JSON.stringify(log.getAttributes()));
  }
}

/** Powertools' Metrics, its EMF blobs appended to the file sink instead of stdout. */
class FileMetrics extends Metrics {
  override publishStoredMetrics(): this {
    try {
      if (this.hasStoredMetrics() && !this.isDisabled()) {
        fileSink?.(JSON.stringify(this.serializeMetrics()));
      }
    } finally {
      this.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
    return this;
  }
}

/**
 * The process's log and metric writers, from its environment: Powertools' defaults (JSON lines
 * and EMF on stdout, which Lambda sends to the function's log group), the service name and
 * namespace CDK sets, and Powertools' level settings (POWERTOOLS_LOG_LEVEL, default INFO). With
 * MCP_EDGE_LOG_FILE set (the tests, the local gateway on request) the same lines are appended to
 * that file instead.
 */
export function createTelemetryOutput(env: NodeJS.ProcessEnv): TelemetryOutput {
  const serviceName = env.POWERTOOLS_SERVICE_NAME || DEFAULT_SERVICE_NAME;
  const namespace = env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE;
  const file = env.MCP_EDGE_LOG_FILE;
  if (file) fileSink ??= openFileSink(file);
  const MetricsClass = file ? FileMetrics : Metrics;
  return {
    logger: new GatewayLogger({ serviceName }),
    metrics: new MetricsClass({ serviceName, namespace }),
    byCode: new MetricsClass({ serviceName, namespace }),
  };
}

let shared: TelemetryOutput | undefined;

/** The process's one output, created on first use from `process.env`. */
export function telemetryOutput(): TelemetryOutput {
  shared ??= createTelemetryOutput(process.env);
  return shared;
}
