import jwt from 'jsonwebtoken';
import { newSigningKey, type SigningKey } from './keys.js';

/**
 * The JWT the Bot Connector puts in the Authorization header of every activity it POSTs to a bot,
 * with the claims "Authenticate requests from the Bot Connector service to your bot" lists: issuer
 * `https://api.botframework.com`, audience = the bot's app id, a `serviceurl` claim equal to the
 * activity's serviceUrl, an unexpired lifetime, RS256 with a key from the OpenID keys document
 * (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication#connector-to-bot).
 */
export const CONNECTOR_ISSUER = 'https://api.botframework.com';

/** How to spoil the token for a negative test; `valid` is the real thing. */
export type InboundToken =
  | 'valid'
  /** No Authorization header at all. */
  | 'none'
  /** Expired beyond the five minutes of clock skew the documentation allows. */
  | 'expired'
  /** Not valid yet, beyond the allowed skew. */
  | 'not-yet-valid'
  /** Signed by a key that is not in the keys document, under the kid of one that is. */
  | 'foreign-key'
  /** A kid the keys document does not list. */
  | 'unknown-kid'
  /** Audience another app's id. */
  | 'wrong-audience'
  /** Issuer other than the Bot Connector. */
  | 'wrong-issuer'
  /** `serviceurl` claim that differs from the activity's serviceUrl. */
  | 'wrong-serviceurl'
  /** HS256 with the app id as the secret: an algorithm the connector never uses. */
  | 'hs256';

/** Clock skew the validation rules tolerate (same page: "industry-standard clock-skew is 5 minutes"). */
const SKEW_SECONDS = 5 * 60;

export class ConnectorSigner {
  readonly key: SigningKey;
  private readonly foreign: SigningKey;

  constructor(
    private readonly appId: string,
    private readonly serviceUrl: string,
  ) {
    this.key = newSigningKey('connector-key-1');
    // Same kid as the real key: the validator finds "its" key and the signature check must fail.
    this.foreign = newSigningKey(this.key.kid);
  }

  private cached: { token: string; until: number } | undefined;

  /**
   * A bearer token for one activity; undefined for `none`. The valid token is reused for half its
   * hour, as the connector reuses its tokens, which also keeps RS256 signing out of benchmarks.
   */
  sign(kind: InboundToken = 'valid', serviceUrl: string = this.serviceUrl): string | undefined {
    if (kind === 'valid' && serviceUrl === this.serviceUrl) {
      if (!this.cached || this.cached.until < Date.now()) {
        this.cached = { token: this.mint('valid', serviceUrl) ?? '', until: Date.now() + 30 * 60_000 };
      }
      return this.cached.token;
    }
    return this.mint(kind, serviceUrl);
  }

  private mint(kind: InboundToken, serviceUrl: string): string | undefined {
    if (kind === 'none') return undefined;
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      serviceurl: kind === 'wrong-serviceurl' ? 'https://smba.example.invalid/amer/' : serviceUrl,
      nbf: now - 5,
      exp: now + 3600,
      iss: kind === 'wrong-issuer' ? 'https://sts.example.invalid/' : CONNECTOR_ISSUER,
      aud: kind === 'wrong-audience' ? '00000000-0000-0000-0000-00000000dead' : this.appId,
    };
    if (kind === 'expired') {
      claims.nbf = now - 3 * 3600;
      claims.exp = now - SKEW_SECONDS - 60;
    }
    if (kind === 'not-yet-valid') {
      claims.nbf = now + SKEW_SECONDS + 600;
      claims.exp = now + 2 * 3600;
    }
    if (kind === 'hs256') return jwt.sign(claims, this.appId, { algorithm: 'HS256', noTimestamp: true });
    const key = kind === 'foreign-key' ? this.foreign : this.key;
    const kid = kind === 'unknown-kid' ? 'connector-key-unknown' : key.kid;
    return jwt.sign(claims, key.privateKey, { algorithm: 'RS256', keyid: kid, noTimestamp: true });
  }
}
