import { RemovalPolicy } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The asymmetric KMS key that signs the gateway's access tokens (ES256 JWTs, RFC 9068; DESIGN.md
 * "The gateway as an authorization server"): `ECC_NIST_P256` for `SIGN_VERIFY`, so the private
 * key never leaves KMS.
 *
 * Permissions live on the function roles, not in the key policy. The key policy is CDK's
 * default: one statement allowing `kms:*` to the account root principal, which grants nobody
 * anything by itself but lets IAM policies in this account grant use of the key (so an account
 * administrator with `kms:*` on `*` could also sign; nothing in this stack grants more). The
 * stack's IAM policies name two uses: {@link grantIssue} (`kms:Sign`, for the function that issues
 * tokens) and {@link grantVerify} (`kms:GetPublicKey` only, for functions that check them).
 *
 * No rotation: KMS rotates only symmetric keys automatically (cdk-nag's KMS5 applies to those
 * only). Replacing the key means a new key and a redeploy; tokens signed with the old one then
 * fail verification and clients get new ones through their refresh tokens.
 *
 * Retained when the stack is deleted: access tokens in flight were signed with it and a
 * recreated stack's verifiers would refuse them; deleting a KMS key is also irreversible after
 * its waiting period. A retained key costs $1/month until it is scheduled for deletion by hand.
 */
export class SigningKey extends Construct {
  public readonly key: Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: 'MCP Edge: signs the gateway access tokens (ES256)',
      keySpec: KeySpec.ECC_NIST_P256,
      keyUsage: KeyUsage.SIGN_VERIFY,
      enableKeyRotation: false,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** Sign with the key, and read its public key (the signer fetches it once, functions/core/authorization/signer.ts). */
  public grantIssue(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['kms:Sign', 'kms:GetPublicKey'], resources: [this.key.keyArn] }),
    );
  }

  /** Read the public key only: enough to verify tokens, never to sign one. */
  public grantVerify(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['kms:GetPublicKey'], resources: [this.key.keyArn] }),
    );
  }
}
