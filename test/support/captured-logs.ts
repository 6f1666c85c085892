import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One line the gateway wrote during the run: a log line, or an EMF blob (`_aws`). */
export type CapturedLine = Record<string, unknown> & { _aws?: EmfMetadata };

interface EmfMetadata {
  readonly CloudWatchMetrics: {
    Namespace: string;
    Dimensions: string[][];
    Metrics: { Name: string; Unit: string }[];
  }[];
}

/** The log files of a run's folder (test/support/log-capture.ts names them `*.log.jsonl`). */
export function capturedLogFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log.jsonl'))
    .map((f) => join(dir, f));
}

/** The lines of a log file; a line that is not a JSON object is returned as `{ unparsed }`. */
export function readCapturedLines(file: string): CapturedLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        const value = JSON.parse(line) as unknown;
        if (typeof value === 'object' && value !== null && !Array.isArray(value))
          return value as CapturedLine;
      } catch {
        // reported below
      }
      return { unparsed: line.slice(0, 40) };
    });
}

/** The metrics of the EMF blobs among `lines`: name → values, with the dimension sets seen. */
export function emfMetrics(
  lines: readonly CapturedLine[],
): Map<string, { values: number[]; dimensions: string[] }> {
  const metrics = new Map<string, { values: number[]; dimensions: string[] }>();
  for (const line of lines) {
    for (const directive of line._aws?.CloudWatchMetrics ?? []) {
      for (const { Name } of directive.Metrics) {
        const entry = metrics.get(Name) ?? { values: [], dimensions: [] };
        const value = line[Name];
        entry.values.push(...(Array.isArray(value) ? (value as number[]) : [value as number]));
        for (const set of directive.Dimensions) {
          const dims = set.map((d) => `${d}=${String(line[d])}`).join(',');
          if (!entry.dimensions.includes(dims)) entry.dimensions.push(dims);
        }
        metrics.set(Name, entry);
      }
    }
  }
  return metrics;
}

/**
 * What is wrong with the lines, as short sentences without any line's content: every log line
 * names its request (`requestId`), route and function, a refused request's line its code, and
 * every EMF blob uses the McpEdge namespace with the {service} or {service, code} dimensions.
 */
export function lineProblems(lines: readonly CapturedLine[]): string[] {
  const problems = new Set<string>();
  for (const line of lines) {
    if ('unparsed' in line) {
      problems.add('a line is not a JSON object');
      continue;
    }
    if (line._aws) {
      for (const directive of line._aws.CloudWatchMetrics) {
        if (directive.Namespace !== 'McpEdge')
          problems.add(`an EMF blob in namespace ${directive.Namespace}`);
        for (const set of directive.Dimensions) {
          const dims = set.join(',');
          if (dims !== 'service' && dims !== 'service,code')
            problems.add(`an EMF blob with dimensions {${dims}}`);
        }
      }
      continue;
    }
    for (const field of ['requestId', 'route', 'function', 'level', 'service']) {
      if (typeof line[field] !== 'string' || line[field] === '') problems.add(`a log line without ${field}`);
    }
    if (line.level === 'WARN' && typeof line.code !== 'string')
      problems.add('a refusal line without its code');
  }
  return [...problems];
}
