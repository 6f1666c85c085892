import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** One finding: the rule (with its finding suffix, if any) on one construct. */
export interface Finding {
  readonly rule: string;
  readonly severity: string | undefined;
  readonly path: string;
}

function flatten(report: ReturnType<AwsSolutionsChecks['validateScope']>): Finding[] {
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({
      rule: v.ruleName,
      severity: v.severity,
      path: r.constructPath ?? '?',
    })),
  );
}

/** The AwsSolutions findings left after acknowledgements (errors and warnings). */
export function unacknowledgedFindings(scope: IConstruct): Finding[] {
  return flatten(new AwsSolutionsChecks().validateScope(scope));
}

/**
 * Every AwsSolutions finding, acknowledged or not, so a test can check that each acknowledgement
 * still matches a finding. cdk-nag has no switch for this; its private `isAcknowledged` is
 * replaced on a test-only subclass.
 */
export function allFindings(scope: IConstruct): Finding[] {
  class IgnoringAcknowledgements extends AwsSolutionsChecks {}
  Object.defineProperty(IgnoringAcknowledgements.prototype, 'isAcknowledged', { value: () => false });
  return flatten(new IgnoringAcknowledgements().validateScope(scope));
}

export interface Acknowledgement {
  readonly rule: string;
  readonly path: string;
  readonly reason: string;
}

/** Every `Validations.of(c).acknowledge(...)` in the tree. */
export function acknowledgements(scope: IConstruct): Acknowledgement[] {
  const found: Acknowledgement[] = [];
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ rule: key.replace(/^annotation::/i, ''), path: construct.node.path, reason });
      }
    }
  }
  return found;
}
