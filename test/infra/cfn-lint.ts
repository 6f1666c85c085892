import { spawnSync } from 'node:child_process';

/** cfn-lint (python) is on the development image; a machine without it skips the lint checks. */
export const hasCfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;

/**
 * The cfn-lint rules the templates are not held to, each with its reason. Everything else —
 * errors, warnings, every rule cfn-lint runs by default — fails the test.
 */
export const CFN_LINT_IGNORED_RULES: Readonly<Record<string, string>> = {
  W3005:
    'A DependsOn that a GetAtt or Ref already implies. aws-cdk-lib writes one on every Lambda function, naming its role and the role’s default policy (so the policy exists before the function is invoked); the policy half is needed and the role half is redundant but harmless, and neither is ours to change.',
};

/** Runs cfn-lint once over the templates, with the ignored rules; its exit status and report. */
export function cfnLint(templates: readonly string[]): { status: number | null; report: string } {
  const result = spawnSync(
    'cfn-lint',
    ['--ignore-checks', ...Object.keys(CFN_LINT_IGNORED_RULES), '--', ...templates],
    { encoding: 'utf8', timeout: 170_000 },
  );
  return { status: result.status, report: `${result.stdout}${result.stderr}${result.error ?? ''}` };
}
