import axios from 'axios';
import { meterAxios } from '../api-metrics.js';
import type { Metrics } from '../metrics.js';

/** A token is asked for again this long before it expires, so no call goes out with a dying one. */
const REFRESH_BEFORE_MS = 5 * 60_000;
/** Entra answers in well under a second; a hung token endpoint must not hold every call for long. */
const TIMEOUT_MS = 15_000;

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  tenantId: string;
}

/**
 * The bot's app-only tokens (Bot Connector, Microsoft Graph) by the OAuth 2.0 client-credentials
 * grant: a form POST of grant_type=client_credentials, client_id, client_secret and scope
 * (`<resource>/.default`) to `<login>/<tenant>/oauth2/v2.0/token`, answered with access_token and
 * expires_in (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow,
 * "First case: Access token request with a shared secret").
 *
 * Why not the SDK's own MSAL client: MSAL insists on an https authority and runs instance discovery
 * against login.microsoftonline.com, so it cannot be pointed at a sovereign test cloud or a local
 * emulator; the same documented request is made here with axios, and handed to the SDK as its
 * `token` provider (AppOptions.token). Each scope's token is cached until five minutes before it
 * expires. The secret goes only into the request body: never into a log line or an error.
 */
export function clientCredentialsTokens(deps: {
  credentials: ClientCredentials;
  loginUrl: string;
  /** Wall-clock milliseconds (token lifetimes are real time, not the product's possibly simulated clock). */
  now?: () => number;
  metrics?: Metrics;
}): (scope: string | string[], tenantId?: string) => Promise<string> {
  const { credentials, loginUrl } = deps;
  const http = meterAxios(axios.create(), deps.metrics, 'entra');
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { token: string; expiresAt: number }>();
  const pending = new Map<string, Promise<string>>();

  async function request(scope: string, tenant: string): Promise<string> {
    const url = `${loginUrl}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      scope,
    });
    const res = await http
      .post(url, form.toString(), {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        timeout: TIMEOUT_MS,
        validateStatus: () => true,
      })
      .catch((err: unknown) => {
        // axios errors carry the request (and so the form with the secret): only the reason goes on.
        const code = (err as { code?: string }).code ?? 'no answer';
        throw new Error(`Microsoft Entra could not be reached for a token (${code})`);
      });
    const body = (res.data ?? {}) as {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
      error_description?: unknown;
    };
    if (res.status !== 200 || typeof body.access_token !== 'string') {
      // The documented error answer: `error` (invalid_client, invalid_scope, …) and a description.
      const error = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
      throw new Error(
        `Microsoft Entra refused the bot's token request for ${scope} (${error}): check TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID`,
      );
    }
    const seconds = Number(body.expires_in);
    const lifetimeMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 3600_000;
    cache.set(`${tenant} ${scope}`, { token: body.access_token, expiresAt: now() + lifetimeMs });
    return body.access_token;
  }

  return async (scopes, tenantId) => {
    const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
    // Single-tenant: the bot's own tenant, whatever tenant the SDK names by default.
    const tenant = credentials.tenantId || tenantId || 'botframework.com';
    const key = `${tenant} ${scope}`;
    const cached = cache.get(key);
    if (cached && cached.expiresAt - REFRESH_BEFORE_MS > now()) return cached.token;
    // Concurrent callers share one request.
    const inFlight = pending.get(key);
    if (inFlight) return inFlight;
    const work = request(scope, tenant).finally(() => pending.delete(key));
    pending.set(key, work);
    return work;
  };
}
