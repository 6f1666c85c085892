import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { sha256Base64url } from '../crypto/hash.ts';
import type { Cipher, EncryptedBlob } from '../vault/cipher.ts';
import { systemClock } from './clock.ts';
import { isConditionFailure, type StoreDeps } from './keys.ts';

/** A client the gateway registered for a route at an upstream authorization server (RFC 7591). */
export interface Registration {
  readonly clientId: string;
  readonly tokenEndpointAuthMethod: 'none' | 'client_secret_basic' | 'client_secret_post';
  readonly clientSecret?: string;
}

/** The pseudo-user in the encryption context of a registration's secret. */
const REGISTRATION_USER = '(dynamic client registration)';

/**
 * Dynamic registrations, kept per (route, issuer) so each route registers once per upstream
 * authorization server. A client secret, when the server issues one, is stored encrypted under
 * the route and issuer.
 */
export function createRegistrationStore(deps: StoreDeps & { cipher: Cipher }) {
  const clock = deps.clock ?? systemClock;
  const key = (route: string, issuer: string) => ({
    pk: `registration#${sha256Base64url(route)}`,
    sk: `issuer#${issuer}`,
  });
  const context = (route: string, issuer: string) => ({ route, user: REGISTRATION_USER, issuer });
  return {
    async get(route: string, issuer: string): Promise<Registration | undefined> {
      const { Item } = await deps.ddb.send(
        new GetCommand({ TableName: deps.tableName, Key: key(route, issuer), ConsistentRead: true }),
      );
      if (!Item) return undefined;
      let clientSecret: string | undefined;
      if (Item.secret) {
        const bytes = await deps.cipher.decrypt(Item.secret as EncryptedBlob, context(route, issuer));
        clientSecret = new TextDecoder().decode(bytes);
      }
      return {
        clientId: String(Item.clientId),
        tokenEndpointAuthMethod: Item.tokenEndpointAuthMethod as Registration['tokenEndpointAuthMethod'],
        clientSecret,
      };
    },
    /**
     * Drops a registration the authorization server no longer accepts (`invalid_client`), so the
     * next connect registers afresh. Only removes it while it still names that client.
     */
    async forget(route: string, issuer: string, clientId: string): Promise<void> {
      try {
        await deps.ddb.send(
          new DeleteCommand({
            TableName: deps.tableName,
            Key: key(route, issuer),
            ConditionExpression: 'clientId = :c',
            ExpressionAttributeValues: { ':c': clientId },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    },
    /** Stores a registration unless one exists already (first writer wins; returns the stored one). */
    async put(route: string, issuer: string, registration: Registration): Promise<Registration> {
      const secret = registration.clientSecret
        ? await deps.cipher.encrypt(
            new TextEncoder().encode(registration.clientSecret),
            context(route, issuer),
          )
        : undefined;
      try {
        await deps.ddb.send(
          new PutCommand({
            TableName: deps.tableName,
            Item: {
              ...key(route, issuer),
              route,
              issuer,
              clientId: registration.clientId,
              tokenEndpointAuthMethod: registration.tokenEndpointAuthMethod,
              ...(secret ? { secret } : {}),
              registeredAt: clock.now(),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return registration;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return (await this.get(route, issuer)) ?? registration;
      }
    },
  };
}

export type RegistrationStore = ReturnType<typeof createRegistrationStore>;
