import { describe, expect, inject, it } from 'vitest';
import { capturedLogFiles, lineProblems, readCapturedLines } from '../support/captured-logs.ts';
import { leakedKindsIn, registeredSecrets } from '../support/secrets.ts';

/**
 * Runs after every other test file (vitest.config.ts: the `logs` project, groupOrder 1) over what
 * they left in this run's folder: every log line and EMF blob the gateway wrote, and every token,
 * code, verifier, cookie, key and session id their support code created or received
 * (test/support/secrets.ts). Failures name kinds and files, never a value.
 */
describe('the gateway’s logs of the whole test run', () => {
  const dir = inject('logDir');
  const files = capturedLogFiles(dir);
  const secrets = registeredSecrets(dir);

  it('were captured, with the secrets the tests handled (run this with the suite, not alone)', () => {
    expect(files.length, `no log files in ${dir}: run the whole suite`).toBeGreaterThan(0);
    expect(secrets.length, 'no secret was recorded').toBeGreaterThan(0);
  });

  it('contain none of the secrets the tests created or received', async () => {
    const leaks = [...(await leakedKindsIn(files, secrets))].map(
      ([file, kinds]) => `${file.slice(dir.length + 1)}: ${kinds.join(', ')}`,
    );
    expect(leaks, 'log files holding a recorded secret (kind and count only)').toEqual([]);
  });

  it('are JSON lines, each naming its request, route and function, a refusal its code', () => {
    const problems: string[] = [];
    for (const file of files) {
      for (const problem of lineProblems(readCapturedLines(file))) {
        problems.push(`${file.slice(dir.length + 1)}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
