import axios, { type AxiosError, type AxiosInstance, type AxiosRequestConfig, isAxiosError } from 'axios';
import axiosRetry, { isNetworkError, retryAfter } from 'axios-retry';
import { meterAxios } from '../../api-metrics.js';
import type { DatabricksSettings } from '../../config.js';
import { ExitCode, UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { scrubErrorsOf } from '../../scrub.js';

/**
 * The Databricks REST client: a personal access token, or OAuth M2M for a service principal
 * (`POST /oidc/v1/token`, client credentials, the token cached until shortly before it expires).
 *
 * Retries with backoff and jitter, honouring Retry-After: a 429 or 503 means the request was not
 * processed, so any request is retried; a 504, a timeout or a reset connection may hide a request
 * that was processed, so only idempotent requests are retried then (GET/PUT/DELETE/HEAD, and a
 * POST the caller marks idempotent, e.g. run-now with an idempotency token). Errors become
 * DatabricksError sentences a user can act on.
 */
export interface DatabricksRest {
  get<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T>;
  post<T>(path: string, body: unknown, options?: { idempotent?: boolean }): Promise<T>;
  put<T>(path: string, body: unknown): Promise<T>;
  patch<T>(path: string, body: unknown): Promise<T>;
  delete<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T>;
  /** Raw bytes to a path (the Files API). */
  putBytes(path: string, bytes: Buffer, query?: Record<string, string | boolean>): Promise<void>;
  getBytes(path: string): Promise<Buffer | undefined>;
}

export class DatabricksError extends UserError {
  readonly status: number | undefined;
  readonly errorCode: string | undefined;
  constructor(message: string, options: { status?: number; errorCode?: string; cause?: unknown }) {
    super(message, { exitCode: ExitCode.Failure, cause: options.cause });
    this.name = 'DatabricksError';
    this.status = options.status;
    this.errorCode = options.errorCode;
  }
}

export interface RestOptions {
  settings: Pick<DatabricksSettings, 'host' | 'auth'>;
  logger: Logger;
  timeoutMs?: number;
  retries?: number;
  /** Base of the backoff (2×, 4×, 8× this, plus jitter); 500 ms by default. */
  retryBaseDelayMs?: number;
  /** A Retry-After longer than this fails at once. */
  maxRetryAfterMs?: number;
  /** Counts and times every call, each retry apart, by endpoint (api-metrics.ts). */
  metrics?: Metrics;
}

const IDEMPOTENT = new Set(['get', 'put', 'delete', 'head', 'options']);
const REFRESH_BEFORE_MS = 60_000;

export function createDatabricksRest(options: RestOptions): DatabricksRest {
  const { settings, logger } = options;
  const retries = options.retries ?? 4;
  const base = options.retryBaseDelayMs ?? 500;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  // Every failed call's error is cleaned of the token (and the OAuth client secret) first thing.
  const http: AxiosInstance = scrubErrorsOf(
    meterAxios(
      axios.create({
        baseURL: settings.host,
        timeout: options.timeoutMs ?? 30_000,
        headers: { 'user-agent': 'crypto-risk-monitor' },
        maxBodyLength: Number.POSITIVE_INFINITY,
      }),
      options.metrics,
      'databricks',
    ),
  );
  const tokenHttp: AxiosInstance = scrubErrorsOf(
    meterAxios(axios.create({ timeout: options.timeoutMs ?? 30_000 }), options.metrics, 'databricks'),
  );

  let oauth: { token: string; expiresAt: number } | undefined;
  async function bearer(): Promise<string> {
    if (settings.auth.kind === 'token') return settings.auth.token;
    if (oauth && Date.now() < oauth.expiresAt - REFRESH_BEFORE_MS) return oauth.token;
    const { clientId, clientSecret } = settings.auth;
    try {
      const res = await tokenHttp.post<{ access_token: string; expires_in: number }>(
        `${settings.host}/oidc/v1/token`,
        new URLSearchParams({ grant_type: 'client_credentials', scope: 'all-apis' }).toString(),
        {
          auth: { username: clientId, password: clientSecret },
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      );
      oauth = { token: res.data.access_token, expiresAt: Date.now() + res.data.expires_in * 1000 };
      return oauth.token;
    } catch (err) {
      throw describe(err, 'POST /oidc/v1/token (OAuth for the service principal)');
    }
  }

  http.interceptors.request.use(async (config) => {
    config.headers.set('authorization', `Bearer ${await bearer()}`);
    return config;
  });

  axiosRetry(http, {
    retries,
    shouldResetTimeout: true,
    retryCondition: (error) => {
      if (retryAfter(error) > maxRetryAfterMs) return false;
      const status = error.response?.status;
      if (status === 429 || status === 503) return true;
      const idempotent =
        IDEMPOTENT.has(error.config?.method?.toLowerCase() ?? '') ||
        (error.config as { idempotent?: boolean } | undefined)?.idempotent === true;
      if (!idempotent) return false;
      if (status === 504) return true;
      return (
        status === undefined &&
        (isNetworkError(error) || error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT')
      );
    },
    retryDelay: (count, error) => {
      const backoff = base * 2 ** count;
      return Math.max(backoff + Math.random() * backoff * 0.3, retryAfter(error));
    },
    onRetry: (count, error, config) => {
      logger.warn(
        {
          path: config.url,
          method: config.method,
          retry: count,
          status: error.response?.status,
          code: error.code,
        },
        `Databricks request failed (${error.response?.status ?? error.code}); retry ${count} of ${retries}`,
      );
    },
  });

  // An OAuth token can be revoked or expire early (Databricks answers 401, or 403 "Invalid access
  // token"): get a new one, once.
  http.interceptors.response.use(undefined, async (error: AxiosError) => {
    const config = error.config as (AxiosRequestConfig & { reauthed?: boolean }) | undefined;
    const status = error.response?.status;
    const invalidToken =
      status === 401 ||
      (status === 403 &&
        /invalid access token|expired/i.test(parseBody(error.response?.data)?.message ?? ''));
    if (settings.auth.kind === 'oauth' && invalidToken && config && !config.reauthed) {
      oauth = undefined;
      config.reauthed = true;
      return http.request(config);
    }
    throw error;
  });

  async function call<T>(config: AxiosRequestConfig & { idempotent?: boolean }): Promise<T> {
    try {
      const res = await http.request<T>(config);
      return res.data;
    } catch (err) {
      throw describe(err, `${(config.method ?? 'get').toUpperCase()} ${config.url}`);
    }
  }

  return {
    get: (path, query) => call({ method: 'get', url: path, params: query }),
    post: (path, body, opts) => call({ method: 'post', url: path, data: body, idempotent: opts?.idempotent }),
    put: (path, body) => call({ method: 'put', url: path, data: body }),
    patch: (path, body) => call({ method: 'patch', url: path, data: body }),
    delete: (path, query) => call({ method: 'delete', url: path, params: query }),
    async putBytes(path, bytes, query) {
      await call({
        method: 'put',
        url: path,
        params: query,
        data: bytes,
        headers: { 'content-type': 'application/octet-stream' },
      });
    },
    async getBytes(path) {
      try {
        const data = await call<ArrayBuffer>({ method: 'get', url: path, responseType: 'arraybuffer' });
        return Buffer.from(data);
      } catch (err) {
        if (err instanceof DatabricksError && err.status === 404) return undefined;
        throw err;
      }
    },
  };
}

/** A failed call as a sentence: what Databricks said, and what to do about it. */
function describe(err: unknown, what: string): DatabricksError {
  if (!isAxiosError(err)) {
    return new DatabricksError(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const status = err.response?.status;
  const body = parseBody(err.response?.data);
  // Most APIs put a name in error_code; the auth layer puts the HTTP status there, as a number.
  const code = body?.error_code === undefined ? undefined : String(body.error_code);
  const said = body?.message ? `: ${body.message.slice(0, 300).replace(/\.+$/, '')}` : '';
  // The request as sent carries the token: keep it out of the error kept as `cause`.
  err.config?.headers?.delete?.('authorization');
  err.request = undefined;
  if (status === undefined) {
    return new DatabricksError(
      `Databricks could not be reached for ${what} (${err.code ?? err.message}): check DATABRICKS_HOST and the network.`,
      { errorCode: err.code, cause: err },
    );
  }
  const hint = (() => {
    if (status === 401 || code === 'UNAUTHENTICATED' || /invalid access token/i.test(body?.message ?? '')) {
      return 'Databricks refused the credentials: check DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET.';
    }
    if (status === 403 || code === 'PERMISSION_DENIED') {
      return 'Permission denied: the token or service principal needs access to this object (see README, Databricks).';
    }
    if (status === 404 || code === 'RESOURCE_DOES_NOT_EXIST' || code === 'NOT_FOUND') {
      return 'Not found in the workspace: run `crypto-risk provision --plan` to see what is missing.';
    }
    if (status === 429 || code === 'REQUEST_LIMIT_EXCEEDED' || code === 'RESOURCE_EXHAUSTED') {
      return 'Databricks rate-limited the request or a quota is exhausted (Free Edition has a daily quota); try again later.';
    }
    if (status === 503 || code === 'TEMPORARILY_UNAVAILABLE')
      return 'Databricks is temporarily unavailable; try again in a minute.';
    if (status >= 500) return 'Databricks had an internal error; try again later.';
    return 'Check the request and the settings.';
  })();
  return new DatabricksError(
    `Databricks answered ${what} with HTTP ${status}${code ? ` ${code}` : ''}${said}. ${hint}`,
    {
      status,
      errorCode: code,
      cause: err,
    },
  );
}

function parseBody(data: unknown): { error_code?: string | number; message?: string } | undefined {
  if (data === undefined || data === null) return undefined;
  if (typeof data === 'object' && !(data instanceof ArrayBuffer) && !Buffer.isBuffer(data)) {
    return data as { error_code?: string | number; message?: string };
  }
  try {
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : data instanceof ArrayBuffer
        ? Buffer.from(data).toString('utf8')
        : String(data);
    return JSON.parse(text) as { error_code?: string | number; message?: string };
  } catch {
    return undefined;
  }
}
