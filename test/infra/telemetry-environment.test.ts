import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_METRICS_NAMESPACE,
  DEFAULT_SERVICE_NAME,
} from '../../functions/adapters/telemetry-output.ts';
import { FUNCTION_METRICS_NAMESPACE } from '../../lib/function-settings.ts';
import { functionNamed } from './iam.ts';
import { readFixture, type Synthesized, synthesize } from './synth.ts';

const FUNCTIONS = ['cimd', 'login', 'connect', 'callback', 'authorization', 'proxy'] as const;
const fixture = readFixture('infra-three-routes.config.json');

/**
 * Every function gets what its logs and metrics need (the metric contract the alarms rely on):
 * the deployment's service name, the McpEdge namespace, and its own name for every log line.
 */
describe('the functions’ telemetry environment', () => {
  let single: Synthesized;
  let named: Synthesized;
  beforeAll(() => {
    single = synthesize(fixture);
    named = synthesize({ ...fixture, deploymentName: 'blue' });
  });
  const env = (s: Synthesized, name: string) =>
    functionNamed(s.gatewayTemplate, name).properties.Environment.Variables as Record<string, unknown>;

  it.each(FUNCTIONS)('%s: service mcp-edge, namespace McpEdge and its own function name', (name) => {
    expect(env(single, name)).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'mcp-edge',
      POWERTOOLS_METRICS_NAMESPACE: 'McpEdge',
      MCP_EDGE_FUNCTION: name,
    });
  });

  it.each(FUNCTIONS)(
    '%s: a named deployment’s service name, so two deployments’ metrics stay apart',
    (name) => {
      expect(env(named, name)).toMatchObject({
        POWERTOOLS_SERVICE_NAME: 'blue-mcp-edge',
        MCP_EDGE_FUNCTION: name,
      });
    },
  );

  it('names the namespace and service the functions fall back to without the variables', () => {
    expect(FUNCTION_METRICS_NAMESPACE).toBe(DEFAULT_METRICS_NAMESPACE);
    expect(env(single, 'proxy').POWERTOOLS_SERVICE_NAME).toBe(DEFAULT_SERVICE_NAME);
  });
});
