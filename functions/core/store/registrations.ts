import { sha256Base64url } from '../crypto/hash.ts';
import type { Cipher, EncryptedBlob } from '../vault/cipher.ts';
import { systemClock } from './clock.ts';
import { type AuthenticatedStoreDeps, isConditionFailure } from './keys.ts';

/** A client the gateway registered for a route at an upstream authorization server (RFC 7591). */
export interface Registration {
  readonly clientId: string;
  readonly tokenEndpointAuthMethod: 'none' | 'client_secret_basic' | 'client_secret_post';
  readonly clientSecret?: string;
}

/** The pseudo-user in the encryption context of a registration's secret. */
export const REGISTRATION_USER = '(dynamic client registration)';

/**
 * Dynamic registrations, kept per (route, issuer) so each route registers once per upstream
 * authorization server. A client secret, when the server issues one, is stored encrypted under
 * the route and issuer. The client id and authentication method are tagged with the secret
 * (record-mac.ts): a registration edited in the table is ignored (and registered afresh).
 */
export function createRegistrationStore(deps: AuthenticatedStoreDeps & { cipher: Cipher }) {
  const clock = deps.clock ?? systemClock;
  const key = (route: string, issuer: string) => ({
    pk: `registration#${sha256Base64url(route)}`,
    sk: `issuer#${issuer}`,
  });
  const context = (route: string, issuer: string) => ({ route, user: REGISTRATION_USER, issuer });
  const tagged = (route: string, issuer: string, item: Record<string, unknown>) => [
    route,
    issuer,
    item.clientId,
    item.tokenEndpointAuthMethod,
    item.secret,
    item.registeredAt,
  ];
  return {
    async get(route: string, issuer: string): Promise<Registration | undefined> {
      const { Item } = await deps.table.get({
        TableName: deps.tableName,
        Key: key(route, issuer),
        ConsistentRead: true,
      });
      if (!Item || !deps.records.verify(key(route, issuer), tagged(route, issuer, Item), Item.mac)) {
        return undefined;
      }
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
        await deps.table.delete({
          TableName: deps.tableName,
          Key: key(route, issuer),
          ConditionExpression: 'clientId = :c',
          ExpressionAttributeValues: { ':c': clientId },
        });
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
      const fields: Record<string, unknown> = {
        clientId: registration.clientId,
        tokenEndpointAuthMethod: registration.tokenEndpointAuthMethod,
        ...(secret ? { secret } : {}),
        registeredAt: clock.now(),
      };
      const item = {
        ...key(route, issuer),
        route,
        issuer,
        ...fields,
        mac: deps.records.tag(key(route, issuer), tagged(route, issuer, fields)),
      };
      const write = (condition: string, values?: Record<string, unknown>) =>
        deps.table.put({
          TableName: deps.tableName,
          Item: item,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        });
      try {
        await write('attribute_not_exists(pk)');
        return registration;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      const stored = await this.get(route, issuer);
      if (stored) return stored;
      // What is there does not verify (it was not written by the gateway): replace it, unless it
      // changed meanwhile (then whoever changed it wins, as with a concurrent registration).
      const { Item: present } = await deps.table.get({
        TableName: deps.tableName,
        Key: key(route, issuer),
        ConsistentRead: true,
      });
      try {
        if (present?.mac === undefined) await write('attribute_not_exists(mac)');
        else await write('mac = :old', { ':old': present.mac });
        return registration;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return (await this.get(route, issuer)) ?? registration;
      }
    },
  };
}

export type RegistrationStore = ReturnType<typeof createRegistrationStore>;
