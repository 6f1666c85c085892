import { CfnOutput, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccountRecovery,
  FeaturePlan,
  Mfa,
  OAuthScope,
  UserPool,
  type UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { LOGIN_CALLBACK_PATH, LOGOUT_PATH } from '../functions/core/auth/signin.ts';
import type { DeployIdp } from './config-checks.ts';
import { SIGN_IN_TOKEN_VALIDITY, USER_POOL_PASSWORD_POLICY } from './defaults.ts';

export interface GatewayUserPoolProps {
  /** The pool's name (lib/deployment-names.ts). */
  readonly userPoolName: string;
  /** The login function's app client's name. */
  readonly clientName: string;
  /** The Cognito domain prefix: sign-in pages at `https://{prefix}.auth.{region}.amazoncognito.com`. */
  readonly domainPrefix: string;
  /** The deployment's route origins; each one's login callback is registered on the app client. */
  readonly routeOrigins: readonly string[];
}

/**
 * The identity provider the gateway creates when the config names no other: a Cognito user pool
 * people sign in to with their email address, its Cognito domain (the hosted sign-in pages) and
 * one public app client for the login function.
 *
 * Invite-only (self sign-up off; operators add people with `admin-create-user`), MFA optional with
 * TOTP enabled (the hosted pages enrol authenticators only once MFA is required), a 12-character
 * password policy, no user-existence hints, and retained with deletion protection: deleting the
 * pool would delete every person's account, and their `sub`s key the token vault. The app client is public (no secret) and allows only the authorization code grant
 * (the login function always sends PKCE S256 and a nonce, functions/core/auth/signin.ts), scopes
 * `openid email profile`, exactly the routes' `/.pomerium/login/callback` URLs, and exactly their
 * `/.pomerium/logout` pages as sign-out URLs: signing out of the gateway also ends the Cognito
 * session through the hosted `/logout` (`client_id`, `logout_uri`), so on a shared browser the next
 * person is not signed in silently as the previous one. Sign-in runs through the hosted pages only:
 * the client allows none of Cognito's direct API sign-in flows.
 *
 * Adding a route adds its callback and sign-out URLs to the app client (an in-place update) and
 * changes nothing else here.
 */
export class GatewayUserPool extends Construct {
  public readonly userPool: UserPool;
  public readonly domain: UserPoolDomain;
  public readonly client: UserPoolClient;
  /** `MCP_EDGE_IDP` for the login function: the pool's issuer, the client's ID and the hosted sign-out (tokens). */
  public readonly idp: DeployIdp;

  constructor(scope: Construct, id: string, props: GatewayUserPoolProps) {
    super(scope, id);
    if (props.routeOrigins.length === 0)
      throw new Error('A user pool needs at least one route to sign in to');

    this.userPool = new UserPool(this, 'UserPool', {
      userPoolName: props.userPoolName,
      featurePlan: FeaturePlan.ESSENTIALS,
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: USER_POOL_PASSWORD_POLICY,
      userInvitation: {
        emailSubject: 'Your MCP Edge sign-in',
        emailBody:
          'You can now sign in to the MCP Edge gateway as {username} with the temporary password {####}. You will choose your own password when you first sign in.',
      },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.acknowledgeUserPoolFindings();

    this.domain = this.userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: props.domainPrefix },
    });

    this.client = this.userPool.addClient('AppClient', {
      userPoolClientName: props.clientName,
      generateSecret: false,
      // Every direct-API flow off; CDK then lists only ALLOW_REFRESH_TOKEN_AUTH, which Cognito keeps.
      authFlows: { userPassword: false, userSrp: false, custom: false, adminUserPassword: false },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL, OAuthScope.PROFILE],
        callbackUrls: props.routeOrigins.map((origin) => `${origin}${LOGIN_CALLBACK_PATH}`),
        // Where Cognito's /logout may send the browser back: each route's sign-out page.
        logoutUrls: props.routeOrigins.map((origin) => `${origin}${LOGOUT_PATH}`),
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: SIGN_IN_TOKEN_VALIDITY.idToken,
      accessTokenValidity: SIGN_IN_TOKEN_VALIDITY.accessToken,
      refreshTokenValidity: SIGN_IN_TOKEN_VALIDITY.refreshToken,
    });

    const stack = Stack.of(this);
    this.idp = {
      issuer: `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${this.userPool.userPoolId}`,
      clientId: this.client.userPoolClientId,
      cognitoLogoutEndpoint: `${this.domain.baseUrl()}/logout`,
    };

    new CfnOutput(this, 'UserPoolId', {
      description:
        'MCP Edge user pool: add people with `aws cognito-idp admin-create-user --user-pool-id <this>`',
      value: this.userPool.userPoolId,
    });
    new CfnOutput(this, 'HostedPages', {
      description: 'MCP Edge hosted sign-in pages (Cognito domain)',
      value: this.domain.baseUrl(),
    });
  }

  private acknowledgeUserPoolFindings(): void {
    const findings: Record<string, string> = {
      'AwsSolutions-COG2':
        'MFA in the MCP Edge user pool is optional, not required: requiring it makes every invited person enrol an authenticator app at first sign-in, a policy the deployment leaves to the operator (README.md, "Signing in"). TOTP is enabled so that requiring it is a one-setting change; until then the hosted sign-in pages offer no enrolment, so nobody uses MFA. SMS MFA stays off (paid per message, needs an SNS role). Operators who need MFA can require it or bring their own OIDC issuer with that policy.',
      'AwsSolutions-COG8':
        'The MCP Edge user pool is on the Essentials feature plan, not Plus: Plus (threat protection: compromised-credential checks, adaptive authentication) has no free tier and costs about $0.02 per monthly active user (list price), whereas Essentials includes 10,000 monthly active users free. Sign-in is invite-only (self sign-up off) and reveals no user existence; operators who need risk-based sign-in can bring their own OIDC issuer or switch the pool to Plus.',
    };
    for (const [id, reason] of Object.entries(findings)) {
      Validations.of(this.userPool).acknowledge({ id, reason });
    }
  }
}
