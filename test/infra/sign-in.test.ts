import { beforeAll, describe, expect, it } from 'vitest';
import { actionsOf, functionNamed, resourcesAllowed, roleStatements } from './iam.ts';
import { readFixture, type Synthesized, synthesize } from './synth.ts';

/** The Cognito fixture: the three routes of infra-three-routes with `idp: { cognito: { domainPrefix } }`. */
const fixture = readFixture('infra-cognito.config.json');
const ORIGINS = fixture.routes.map((r) => r.from);
const TOOLS_SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools-AbCdEf';

let s: Synthesized;
beforeAll(() => {
  s = synthesize(fixture);
});

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
function only(type: string): { logicalId: string; resource: Resource } {
  const found = Object.entries(s.gatewayTemplate.findResources(type));
  expect(found, type).toHaveLength(1);
  const [logicalId, resource] = found[0]!;
  return { logicalId, resource: resource as Resource };
}

/** A CloudFormation `Fn::Join` of strings and `Ref`s, with each `Ref` written as `<logical ID>`. */
function joined(value: unknown): string {
  const join = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return join[1]
    .map((part) => (typeof part === 'string' ? part : `<${(part as { Ref: string }).Ref}>`))
    .join(join[0]);
}

describe('the Cognito user pool (the default identity provider)', () => {
  it('is invite-only, signs people in by email, offers TOTP MFA and asks for strong passwords', () => {
    expect(only('AWS::Cognito::UserPool').resource.Properties).toMatchObject({
      UserPoolTier: 'ESSENTIALS',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      UsernameAttributes: ['email'],
      UsernameConfiguration: { CaseSensitive: false },
      AutoVerifiedAttributes: ['email'],
      AccountRecoverySetting: { RecoveryMechanisms: [{ Name: 'verified_email', Priority: 1 }] },
      MfaConfiguration: 'OPTIONAL',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      Policies: {
        PasswordPolicy: {
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
          TemporaryPasswordValidityDays: 7,
        },
      },
    });
  });

  it('sends no SMS, so it needs no SNS role', () => {
    expect(only('AWS::Cognito::UserPool').resource.Properties.SmsConfiguration).toBeUndefined();
    const roles = Object.values(s.gatewayTemplate.findResources('AWS::IAM::Role'));
    expect(JSON.stringify(roles)).not.toContain('cognito-idp.amazonaws.com');
  });

  it('is retained with deletion protection: it holds everyone’s account', () => {
    s.gatewayTemplate.hasResource('AWS::Cognito::UserPool', {
      Properties: { DeletionProtection: 'ACTIVE' },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('has a Cognito domain with the configured prefix, serving the classic hosted pages', () => {
    const pool = only('AWS::Cognito::UserPool');
    expect(only('AWS::Cognito::UserPoolDomain').resource.Properties).toEqual({
      Domain: 'example-mcp-edge',
      UserPoolId: { Ref: pool.logicalId },
    });
  });

  it('names the pool and its sign-in pages in stack outputs, for adding people', () => {
    const outputs = Object.values(s.gatewayTemplate.toJSON().Outputs as Record<string, { Value: unknown }>);
    expect(outputs.map((o) => o.Value)).toEqual(
      expect.arrayContaining([
        { Ref: only('AWS::Cognito::UserPool').logicalId },
        {
          'Fn::Join': [
            '',
            [
              'https://',
              { Ref: only('AWS::Cognito::UserPoolDomain').logicalId },
              '.auth.eu-central-1.amazoncognito.com',
            ],
          ],
        },
      ]),
    );
  });
});

describe('the app client', () => {
  const client = () => only('AWS::Cognito::UserPoolClient').resource.Properties;

  it('registers every route’s login callback, in config order, and nothing else', () => {
    expect(client().CallbackURLs).toEqual(ORIGINS.map((o) => `${o}/.pomerium/login/callback`));
    expect(client().DefaultRedirectURI).toBeUndefined();
  });

  it('registers every route’s sign-out page as a sign-out URL, so signing out ends the Cognito session too', () => {
    expect(client().LogoutURLs).toEqual(ORIGINS.map((o) => `${o}/.pomerium/logout`));
  });

  it('is public and allows only the authorization code grant with openid, email and profile', () => {
    expect(client()).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthScopes: ['openid', 'email', 'profile'],
      SupportedIdentityProviders: ['COGNITO'],
    });
  });

  it('allows none of Cognito’s direct sign-in APIs and reveals no user existence', () => {
    expect(client()).toMatchObject({
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
      PreventUserExistenceErrors: 'ENABLED',
      EnableTokenRevocation: true,
    });
  });

  it('issues ID tokens for an hour and the unused access and refresh tokens for Cognito’s minimum', () => {
    expect(client()).toMatchObject({
      IdTokenValidity: 60,
      AccessTokenValidity: 5,
      RefreshTokenValidity: 60,
      TokenValidityUnits: { IdToken: 'minutes', AccessToken: 'minutes', RefreshToken: 'minutes' },
    });
  });
});

describe('functions with the Cognito user pool', () => {
  const env = (name: string) => functionNamed(s.gatewayTemplate, name).properties.Environment.Variables;

  it('gives login the pool’s issuer, the app client’s ID and the hosted sign-out, resolved by CloudFormation', () => {
    const pool = only('AWS::Cognito::UserPool').logicalId;
    const appClient = only('AWS::Cognito::UserPoolClient').logicalId;
    const domain = only('AWS::Cognito::UserPoolDomain').logicalId;
    expect(JSON.parse(joined(env('login').MCP_EDGE_IDP))).toEqual({
      issuer: `https://cognito-idp.eu-central-1.<AWS::URLSuffix>/<${pool}>`,
      clientId: `<${appClient}>`,
      cognitoLogoutEndpoint: `https://<${domain}>.auth.eu-central-1.amazoncognito.com/logout`,
    });
  });

  it.each(['cimd', 'connect', 'callback'])('gives %s no identity provider', (name) => {
    expect(env(name).MCP_EDGE_IDP).toBeUndefined();
  });

  /** The sealing secret every table function reads (record MACs; sign-in transactions for login). */
  const sealing = () => ({
    Ref: Object.keys(s.gatewayTemplate.findResources('AWS::SecretsManager::Secret')).find((id) =>
      id.startsWith('ProxySealing'),
    ),
  });

  it('lets login read no identity-provider secret (the client is public), only the sealing secret, and call no Cognito API', () => {
    const statements = roleStatements(s.gatewayTemplate, 'login');
    expect(resourcesAllowed(statements, 'secretsmanager:GetSecretValue')).toEqual([sealing()]);
    expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('cognito'))).toEqual([]);
  });

  it.each(['connect', 'callback'])(
    'still lets %s read exactly the upstream client secrets and the sealing secret',
    (name) => {
      expect(
        resourcesAllowed(roleStatements(s.gatewayTemplate, name), 'secretsmanager:GetSecretValue'),
      ).toEqual([TOOLS_SECRET, sealing()]);
    },
  );
});
