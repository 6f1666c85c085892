import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { CFN_LINT_IGNORED_RULES, cfnLint, hasCfnLint } from './cfn-lint.ts';
import { deploymentOf, FIXTURES, readFixture, synthesize } from './synth.ts';
import { synthesizeTwoDeployments } from './two-deployments.ts';

/**
 * cfn-lint over every template the app synthesizes (issue 9 item 11): each deployable fixture
 * config and the two-deployment app, synthesized in-process with cdk.json's feature flags
 * (cli-synth.test.ts lints the real `cdk synth` output of the three-route fixture as well).
 */

/** The fixtures `cdk synth` refuses, each for a reason test/infra/config-checks.test.ts checks. */
const REFUSED = [
  'infra-http-origin.config.json',
  'infra-local-only.config.json',
  'infra-outside-zone.config.json',
];
const FIXTURE_FILES = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
const DEPLOYABLE = FIXTURE_FILES.filter((f) => !REFUSED.includes(f));

const out = mkdtempSync(join(tmpdir(), 'mcp-edge-lint-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Copies an app's templates into `out` under a prefix (CDK removes its temporary outdir at exit). */
function templatesOf(app: App, prefix: string): string[] {
  return app.synth().stacks.map((stack) => {
    const file = join(out, `${prefix}-${basename(stack.templateFullPath)}`);
    copyFileSync(stack.templateFullPath, file);
    return file;
  });
}

describe('cfn-lint over every synthesized template', () => {
  it('knows every fixture: deployable ones are linted, the others are refused by the deployment checks', () => {
    expect(DEPLOYABLE.length).toBeGreaterThanOrEqual(2);
    for (const file of REFUSED) expect(() => deploymentOf(readFixture(file)), file).toThrow();
  });

  it('gives every ignored rule its reason', () => {
    for (const [rule, reason] of Object.entries(CFN_LINT_IGNORED_RULES)) {
      expect(rule).toMatch(/^[EWI]\d{4}$/);
      expect(reason.length, rule).toBeGreaterThan(60);
    }
  });

  it.skipIf(!hasCfnLint)(
    'finds nothing in the templates of each deployable fixture and of two deployments side by side',
    { timeout: 180_000 },
    () => {
      const templates = [
        ...DEPLOYABLE.flatMap((file) =>
          templatesOf(synthesize(readFixture(file)).app, basename(file, '.json')),
        ),
        ...templatesOf(synthesizeTwoDeployments().app, 'two-deployments'),
      ];
      // Three stacks per deployment: certificates and web ACL in us-east-1, the gateway.
      expect(templates).toHaveLength(3 * (DEPLOYABLE.length + 2));
      const { status, report } = cfnLint(templates);
      expect(status, report).toBe(0);
    },
  );
});
