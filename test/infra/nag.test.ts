import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Acknowledgement,
  acknowledgements,
  allFindings,
  type Finding,
  unacknowledgedFindings,
} from './nag.ts';
import { readFixture, type Synthesized, synthesize } from './synth.ts';

// The Cognito fixture has every resource the external-issuer one has, and the user pool besides
// (the external-issuer deployment is nag-checked in endpoint-generation.test.ts).
let s: Synthesized;
let acks: Acknowledgement[];
let findings: Finding[];
beforeAll(() => {
  s = synthesize(readFixture('infra-cognito.config.json'));
  acks = acknowledgements(s.app);
  findings = allFindings(s.app);
});

const covers = (ack: Acknowledgement, finding: Finding) =>
  ack.rule === finding.rule && (finding.path === ack.path || finding.path.startsWith(`${ack.path}/`));

describe('cdk-nag AwsSolutions', () => {
  it('leaves no unacknowledged finding, error or warning', () => {
    expect(unacknowledgedFindings(s.app)).toEqual([]);
  });

  it('acknowledges on the resource (or its owning construct), never on a stack or the app', () => {
    const stackPaths = new Set(['', s.certificates.node.path, s.gateway.node.path]);
    expect(acks.filter((a) => stackPaths.has(a.path))).toEqual([]);
  });

  it('has no stale acknowledgement: each one matches a finding it silences', () => {
    expect(acks.filter((ack) => !findings.some((f) => covers(ack, f)))).toEqual([]);
  });

  it('gives every acknowledgement a reason that explains itself', () => {
    for (const ack of acks) {
      expect(typeof ack.reason, `${ack.rule} at ${ack.path}`).toBe('string');
      expect(ack.reason.length, `${ack.rule} at ${ack.path}`).toBeGreaterThan(60);
    }
  });

  it('acknowledges exactly the expected rules (a new one needs a look and a reason)', () => {
    expect([...new Set(acks.map((a) => a.rule))].sort()).toEqual([
      'AwsSolutions-APIG2',
      'AwsSolutions-APIG3',
      'AwsSolutions-APIG4',
      'AwsSolutions-CFR1',
      'AwsSolutions-CFR3',
      'AwsSolutions-COG2',
      'AwsSolutions-COG4',
      'AwsSolutions-COG8',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
      'AwsSolutions-SMG4',
    ]);
  });

  it('has no finding at all on the token signing key (KMS5 asks rotation of symmetric keys only)', () => {
    const key = s.gateway.signingKey.node.path;
    expect(findings.filter((f) => f.path === key || f.path.startsWith(`${key}/`))).toEqual([]);
  });

  it('acknowledges SMG4 on the two generated secrets only, the sealing secret’s saying what a replacement costs clients', () => {
    const smg4 = acks.filter((a) => a.rule === 'AwsSolutions-SMG4');
    expect(smg4.map((a) => a.path).sort()).toEqual(
      [s.gateway.originVerify.secret.node.path, s.gateway.sealing.secret.node.path].sort(),
    );
    const sealing = smg4.find((a) => a.path === s.gateway.sealing.secret.node.path)!;
    expect(sealing.reason).toMatch(/sealingSecretGeneration/);
    expect(sealing.reason).toMatch(/re-initialize/);
  });

  it('acknowledges APIG4 on each method by itself, naming its path and function, the new endpoints too', () => {
    const apig4 = acks.filter((a) => a.rule === 'AwsSolutions-APIG4');
    for (const [path, fn] of [
      ['/.well-known/oauth-authorization-server', 'authorization'],
      ['/.well-known/oauth-protected-resource/mcp', 'authorization'],
      ['/.pomerium/mcp/token', 'authorization'],
      ['/mcp', 'proxy'],
    ]) {
      const where = ` ${path} (${fn} function) is a public endpoint by protocol`;
      expect(apig4.filter((a) => a.reason.includes(where)).length, where).toBeGreaterThan(0);
    }
  });

  it('acknowledges the user pool’s optional MFA (COG2) and Essentials plan (COG8) on the pool itself', () => {
    const pool = s.gateway.userPool!.userPool.node.path;
    const onPool = acks.filter((a) => a.rule === 'AwsSolutions-COG2' || a.rule === 'AwsSolutions-COG8');
    expect(onPool.map((a) => [a.rule, a.path]).sort()).toEqual([
      ['AwsSolutions-COG2', pool],
      ['AwsSolutions-COG8', pool],
    ]);
    expect(onPool.find((a) => a.rule === 'AwsSolutions-COG2')!.reason).toMatch(/optional.*TOTP.*SMS/s);
    expect(onPool.find((a) => a.rule === 'AwsSolutions-COG8')!.reason).toMatch(
      /Plus.*per monthly active user/s,
    );
  });
});
