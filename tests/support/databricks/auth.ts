import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, type ApiReply, type Ctx, type Route, route } from './core.js';

/**
 * Bearer authentication (the configured PAT, or OAuth tokens this emulator issued) and OAuth M2M
 * for a service principal: `POST /oidc/v1/token` with HTTP Basic client_id:client_secret (or the
 * two as form fields) and `grant_type=client_credentials&scope=all-apis`, plus the discovery
 * document `GET /oidc/.well-known/oauth-authorization-server` that the Databricks SDKs read first.
 *
 * What Databricks answers, as captured in real traffic (no reference page documents it):
 * - no or non-Bearer credentials: HTTP 401, "Credential was not sent or was of an unsupported type
 *   for this API." (seen in many client logs, e.g. dbt/Iceberg against Databricks);
 * - an unknown or revoked token: HTTP 403 `{"error_code": 403, "message": "Invalid access token."}`
 *   with header X-Databricks-Reason-Phrase (databricks/databricks-sdk-go#917); the error reference
 *   (docs.databricks.com/api/…/errors) notes that legacy endpoints put the HTTP status as a number
 *   in error_code, so clients must not assume a string there;
 * - an expired OAuth token: 403 as well, not 401 (n8n-io/n8n#34147, fixed by treating 403 as
 *   "refresh the token").
 * Token endpoint errors use the OAuth 2.0 shape (RFC 6749 §5.2): `{error, error_description}`.
 */

export interface AuthOptions {
  token: string;
  clientId: string;
  clientSecret: string;
  tokenLifetimeSeconds: number;
}

export function createAuth(ctx: Ctx, options: AuthOptions) {
  const issued = new Map<string, number>();
  let count = 0;

  function check(headers: IncomingHttpHeaders): void {
    const header = headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      const message = 'Credential was not sent or was of an unsupported type for this API.';
      throw new ApiError(401, 401, message, { 'x-databricks-reason-phrase': message });
    }
    const token = m[1] ?? '';
    const expires = issued.get(token);
    if (token === options.token || (expires !== undefined && expires > Date.now())) return;
    throw new ApiError(403, 403, 'Invalid access token.', {
      'x-databricks-reason-phrase': 'Invalid access token.',
    });
  }

  function oauthError(status: number, error: string, description: string): ApiReply {
    return { status, json: { error, error_description: description } };
  }

  const routes: Route[] = [
    route(
      'GET',
      /^\/oidc\/\.well-known\/oauth-authorization-server$/,
      () => {
        const base = ctx.url();
        return {
          status: 200,
          json: {
            issuer: `${base}/oidc`,
            authorization_endpoint: `${base}/oidc/v1/authorize`,
            token_endpoint: `${base}/oidc/v1/token`,
            jwks_uri: `${base}/oidc/jwks.json`,
            grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token'],
            token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          },
        };
      },
      { public: true },
    ),
    route(
      'POST',
      /^\/oidc\/v1\/token$/,
      (req) => {
        const form = new URLSearchParams(req.body.toString('utf8'));
        let id = form.get('client_id') ?? '';
        let secret = form.get('client_secret') ?? '';
        const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
        if (basic) {
          const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          id = formDecode(decoded.slice(0, colon < 0 ? undefined : colon));
          secret = colon < 0 ? '' : formDecode(decoded.slice(colon + 1));
        }
        if (id !== options.clientId || secret !== options.clientSecret) {
          return oauthError(401, 'invalid_client', 'Client authentication failed');
        }
        const grant = form.get('grant_type');
        if (grant !== 'client_credentials') {
          return oauthError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grant ?? '(none)'}`);
        }
        const scope = form.get('scope') ?? 'all-apis';
        const accessToken = `eyJ${randomBytes(24).toString('base64url')}`;
        issued.set(accessToken, Date.now() + options.tokenLifetimeSeconds * 1000);
        count += 1;
        return {
          status: 200,
          json: {
            access_token: accessToken,
            token_type: 'Bearer',
            expires_in: options.tokenLifetimeSeconds,
            scope,
          },
        };
      },
      { public: true },
    ),
  ];

  return {
    routes,
    check,
    oauthTokensIssued: () => count,
    expireOAuthTokens(): void {
      for (const token of issued.keys()) issued.set(token, 0);
    },
  };
}

/** RFC 6749 §2.3.1: client_id and client_secret are form-encoded before Basic encoding. */
function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
