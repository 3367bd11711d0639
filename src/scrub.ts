import {
  type AxiosError,
  AxiosHeaders,
  type AxiosInstance,
  type AxiosRequestConfig,
  isAxiosError,
} from 'axios';

/**
 * Keeps credentials out of the errors the project keeps as `cause`. An axios error carries the
 * request as sent: the headers (a bearer token, an API key), basic-auth credentials, the body (an
 * OAuth form with a client secret) and the raw request whose `_header` text repeats all of it.
 * Anything that prints such an error (`util.inspect`, a logger serialising `err`, JSON.stringify)
 * would show them. The interceptor cleans every failed response of an instance in place, so the
 * error stays usable for retries (the credentials are added again per request, by a request
 * interceptor or the instance's default headers) but holds no secret.
 */

const REDACTED = '[redacted]';

/** Headers that carry credentials, in lower case. */
const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-cg-pro-api-key',
  'x-cg-demo-api-key',
  'x-databricks-azure-sp-management-token',
]);

/** Form fields and query parameters that carry credentials. */
const FIELD_NAMES =
  'client_secret|client_assertion|password|access_token|refresh_token|token|api_key|x_cg_pro_api_key|x_cg_demo_api_key';
const SECRET_FIELDS = new RegExp(`^(${FIELD_NAMES})$`, 'i');
const FORM_FIELD = new RegExp(`(^|[&?])(${FIELD_NAMES})=[^&]*`, 'gi');
const JSON_FIELD = new RegExp(`("(?:${FIELD_NAMES})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi');

/** Adds the scrubbing interceptor to an axios instance; returns the instance. */
export function scrubErrorsOf(http: AxiosInstance): AxiosInstance {
  http.interceptors.response.use(undefined, (error: unknown) => Promise.reject(scrubAxiosError(error)));
  return http;
}

/** Cleans an axios error in place (anything else is returned as it is). */
export function scrubAxiosError<T>(error: T): T {
  if (!isAxiosError(error)) return error;
  const err = error as AxiosError;
  if (err.config) scrubConfig(err.config);
  // The raw request (a ClientRequest) holds the header text and the socket: nothing worth keeping.
  err.request = undefined;
  if (err.response) {
    if (err.response.config && err.response.config !== err.config) scrubConfig(err.response.config);
    err.response.request = undefined;
    err.response.headers = scrubHeaders(err.response.headers) as typeof err.response.headers;
  }
  return error;
}

function scrubConfig(config: AxiosRequestConfig): void {
  if (config.headers) config.headers = scrubHeaders(config.headers) as typeof config.headers;
  if (config.auth) config.auth = undefined;
  if (typeof config.data === 'string') config.data = scrubForm(config.data);
  else if (config.data instanceof URLSearchParams) config.data = scrubForm(config.data.toString());
  if (config.params && typeof config.params === 'object' && !(config.params instanceof URLSearchParams)) {
    const params: Record<string, unknown> = { ...(config.params as Record<string, unknown>) };
    for (const key of Object.keys(params)) if (SECRET_FIELDS.test(key)) params[key] = REDACTED;
    config.params = params;
  }
  if (typeof config.url === 'string') config.url = scrubUrl(config.url);
}

/** A copy of a header set without the credential headers (AxiosHeaders stays AxiosHeaders). */
function scrubHeaders(headers: unknown): unknown {
  if (!headers || typeof headers !== 'object') return headers;
  const plain =
    headers instanceof AxiosHeaders
      ? headers.toJSON()
      : ({ ...(headers as Record<string, unknown>) } as object);
  const out = new AxiosHeaders();
  for (const [name, value] of Object.entries(plain)) {
    if (value === undefined || value === null) continue;
    // Left out, not blanked: a retry merges the instance's defaults back in, and a blank would win.
    if (!SECRET_HEADERS.has(name.toLowerCase())) out.set(name, value as string);
  }
  return out;
}

/** A form or JSON body with the secret fields blanked: `client_secret=…` and `"client_secret":"…"`. */
export function scrubForm(text: string): string {
  return text.replace(FORM_FIELD, `$1$2=${REDACTED}`).replace(JSON_FIELD, `$1"${REDACTED}"`);
}

function scrubUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url.replace(/\/\/[^/@]*@/, `//${REDACTED}@`);
  return `${url.slice(0, q).replace(/\/\/[^/@]*@/, `//${REDACTED}@`)}${scrubForm(url.slice(q))}`;
}
