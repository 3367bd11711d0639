import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { newSigningKey, type SigningKey, toJwk } from './keys.js';

/**
 * The Microsoft identity platform's v2.0 token endpoint for the client-credentials grant
 * ("Microsoft identity platform and the OAuth 2.0 client credentials flow":
 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow), for one
 * single-tenant app registration. Tokens are RS256 JWTs (the SDK parses them as JWTs) that the
 * emulator's connector and Graph routes check.
 */
export const BOT_RESOURCE = 'https://api.botframework.com';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';

export interface TokenRequestRecord {
  at: number;
  tenant: string;
  clientId: string | undefined;
  scope: string | undefined;
  status: number;
  /** The identity platform's `error` code when refused. */
  error?: string;
}

export interface EntraOptions {
  appId: string;
  appPassword: string;
  tenantId: string;
  /** Seconds an access token lives; the platform issues about an hour (`expires_in` 3599). */
  tokenLifetimeSeconds?: number;
  /** Application permissions granted to the app on Graph, carried in the token's `roles` claim. */
  graphRoles?: string[];
}

export type AccessCheck = { ok: true; claims: jwt.JwtPayload } | { ok: false; reason: string };

interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

export class EntraTokenService {
  readonly key: SigningKey = newSigningKey('entra-key-1');
  readonly requests: TokenRequestRecord[] = [];

  constructor(private readonly options: EntraOptions) {}

  /** JWKS the tenant publishes at `/{tenant}/discovery/v2.0/keys`. */
  jwks(): Record<string, unknown> {
    return { keys: [toJwk(this.key)] };
  }

  /** OpenID configuration at `/{tenant}/v2.0/.well-known/openid-configuration`. */
  openIdConfiguration(base: string, tenant: string): Record<string, unknown> {
    return {
      issuer: `${base}/${tenant}/v2.0`,
      token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
      jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic', 'private_key_jwt'],
      id_token_signing_alg_values_supported: ['RS256'],
      tenant_region_scope: 'WW',
    };
  }

  /** Answers one POST to `/{tenant}/oauth2/v2.0/token`. */
  token(tenant: string, form: URLSearchParams, authorization: string | undefined): TokenAnswer {
    const basic = parseBasic(authorization);
    const clientId = form.get('client_id') ?? basic?.id ?? undefined;
    const secret = form.get('client_secret') ?? basic?.secret ?? undefined;
    const scope = form.get('scope') ?? undefined;
    const answer = this.decide(tenant, form.get('grant_type'), clientId, secret, scope);
    this.requests.push({
      at: Date.now(),
      tenant,
      clientId,
      scope,
      status: answer.status,
      ...(answer.status === 200 ? {} : { error: String(answer.body.error) }),
    });
    return answer;
  }

  private decide(
    tenant: string,
    grantType: string | null,
    clientId: string | undefined,
    secret: string | undefined,
    scope: string | undefined,
  ): TokenAnswer {
    const o = this.options;
    // The error codes below are the AADSTS codes the platform returns for each case
    // (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
    if (tenant.toLowerCase() !== o.tenantId.toLowerCase()) {
      // A single-tenant registration exists only in its own tenant; "common" or "botframework.com"
      // do not know it either (stricter than a multi-tenant bot).
      if (tenant === 'common' || tenant === 'botframework.com' || tenant === 'organizations') {
        return oauthError(400, 'unauthorized_client', 700016, appNotFound(clientId, tenant));
      }
      return oauthError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    }
    if (!grantType) return oauthError(400, 'invalid_request', 900144, missing('grant_type'));
    if (grantType !== 'client_credentials') {
      return oauthError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
      );
    }
    if (!clientId) return oauthError(400, 'invalid_request', 900144, missing('client_id'));
    if (clientId !== o.appId)
      return oauthError(400, 'unauthorized_client', 700016, appNotFound(clientId, tenant));
    if (!secret) {
      return oauthError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    }
    if (secret !== o.appPassword) {
      return oauthError(
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      );
    }
    if (!scope) return oauthError(400, 'invalid_request', 900144, missing('scope'));
    const scopes = scope.split(' ').filter(Boolean);
    // Client credentials take exactly one `{resource}/.default` scope (same flow page, "First case: access token request with a shared secret").
    if (scopes.length !== 1 || !scopes[0]?.endsWith('/.default')) {
      return oauthError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const resource = scopes[0].slice(0, -'/.default'.length);
    if (resource !== BOT_RESOURCE && resource !== GRAPH_RESOURCE) {
      return oauthError(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${tenant}.`,
      );
    }
    const lifetime = o.tokenLifetimeSeconds ?? 3599;
    return {
      status: 200,
      body: {
        token_type: 'Bearer',
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: this.issue(resource, lifetime),
      },
    };
  }

  private issue(resource: string, lifetime: number): string {
    const now = Math.floor(Date.now() / 1000);
    const o = this.options;
    const claims: Record<string, unknown> = {
      aud: resource,
      iss: `https://sts.windows.net/${o.tenantId}/`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: o.appId,
      appidacr: '1',
      idtyp: 'app',
      tid: o.tenantId,
      oid: randomUUID(),
      sub: o.appId,
      ver: '1.0',
      uti: randomUUID(),
    };
    if (resource === GRAPH_RESOURCE) claims.roles = o.graphRoles ?? ['User.Read.All', 'GroupMember.Read.All'];
    return jwt.sign(claims, this.key.privateKey, {
      algorithm: 'RS256',
      keyid: this.key.kid,
      noTimestamp: true,
    });
  }

  /** Checks a bearer header against a resource: signature, lifetime, audience, tenant and app. */
  check(authorization: string | undefined, resource: string): AccessCheck {
    if (!authorization?.startsWith('Bearer ')) return { ok: false, reason: 'missing bearer token' };
    try {
      const claims = jwt.verify(authorization.slice(7), this.key.publicKey, {
        algorithms: ['RS256'],
        audience: resource,
        issuer: `https://sts.windows.net/${this.options.tenantId}/`,
      });
      if (typeof claims === 'string') return { ok: false, reason: 'token is not a JSON payload' };
      if (claims.appid !== this.options.appId) return { ok: false, reason: 'token is for another app' };
      return { ok: true, claims };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : 'invalid token' };
    }
  }
}

function parseBasic(header: string | undefined): { id: string; secret: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    id: decodeURIComponent(decoded.slice(0, colon)),
    secret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

function missing(name: string): string {
  return `The request body must contain the following parameter: '${name}'.`;
}

function appNotFound(clientId: string | undefined, tenant: string): string {
  return `Application with identifier '${clientId ?? ''}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`;
}

/** The platform's error body: error, error_description (prefixed with the AADSTS code), error_codes, timestamp, trace_id, correlation_id. */
function oauthError(status: number, error: string, code: number, text: string): TokenAnswer {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}
