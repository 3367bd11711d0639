import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';

/** One RSA signing key with the `kid` it is published under. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A fresh 2048-bit RSA key: tokens are RS256, the only algorithm the Bot Connector and Entra sign with. */
export function newSigningKey(kid: string = randomUUID()): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicKey };
}

/**
 * The key as a JWKS entry. The Bot Connector's keys document lists, per key, the channels that
 * endorse it; a bot must refuse an activity whose channelId the signing key does not endorse
 * ("Authenticate requests from the Bot Connector service to your bot", step 4 of token validation:
 * https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication).
 */
export function toJwk(key: SigningKey, endorsements?: string[]): Record<string, unknown> {
  const jwk = key.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return {
    kty: 'RSA',
    use: 'sig',
    kid: key.kid,
    n: jwk.n,
    e: jwk.e,
    ...(endorsements ? { endorsements } : {}),
  };
}
