import type { AxiosError, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { Metrics } from './metrics.js';

/**
 * Every HTTP call to a platform or chat service, counted and timed: each attempt on its own (a
 * retried call counts each time it went out), by service, endpoint and HTTP status, 429s apart.
 * The endpoint is the request's path as a template, so its values stay bounded whatever ids it
 * carries; the query, headers and body are never read (no secret, no user text in a label).
 */
export type ApiCode = number | 'error';

export function observeApiCall(
  metrics: Metrics,
  service: string,
  endpoint: string,
  code: ApiCode,
  seconds: number,
): void {
  metrics.apiRequests.inc({ service, endpoint, code: String(code) });
  metrics.apiDuration.observe({ service, endpoint }, seconds);
  if (code === 429) metrics.apiRateLimited.inc({ service, endpoint });
}

/** A segment naming an API version: `v3`, `v1.0` anywhere; `2.0` near the start (Databricks' `/api/2.0`). */
const VERSION = /^v\d+(\.\d+)?$/;
const BARE_VERSION = /^\d+\.\d+$/;
/** A segment that is a value, not a name: an id's punctuation, two digits or more (`oauth2` is a name), or long. */
const VALUE = /[:@%=]|\d.*\d/;

/**
 * A request path as a bounded template: `/v3/conversations/19%3Aab%40thread.tacv2/activities/17`
 * → `/v3/conversations/{id}/activities/{id}`. A Databricks Files API path names a file:
 * `/api/2.0/fs/files/Volumes/…` → `/api/2.0/fs/files/{path}`.
 */
export function endpointTemplate(urlOrPath: string): string {
  let path = urlOrPath.split(/[?#]/)[0] ?? '';
  if (/^[a-z]+:\/\//i.test(path)) path = new URL(path).pathname;
  const files = /^(.*\/fs\/(?:files|directories))\/./.exec(path);
  if (files) return `${files[1]}/{path}`;
  const segments = path.split('/');
  return segments
    .map((segment, i) => {
      if (segment === '' || VERSION.test(segment) || (i <= 2 && BARE_VERSION.test(segment))) return segment;
      return VALUE.test(segment) || segment.length > 40 ? '{id}' : segment;
    })
    .join('/');
}

const STARTED = Symbol('api-call-started');
type Timed = InternalAxiosRequestConfig & { [STARTED]?: number };

/**
 * Meters an axios instance. Call it on the new instance before anything else registers
 * interceptors (retries, error scrubbing), so it sees each attempt's own answer.
 */
export function meterAxios(
  http: AxiosInstance,
  metrics: Metrics | undefined,
  service: string,
): AxiosInstance {
  if (!metrics) return http;
  const done = (config: Timed | undefined, code: ApiCode) => {
    const started = config?.[STARTED];
    if (!config || started === undefined) return;
    delete config[STARTED];
    observeApiCall(
      metrics,
      service,
      endpointTemplate(config.url ?? ''),
      code,
      (performance.now() - started) / 1000,
    );
  };
  http.interceptors.request.use((config: Timed) => {
    config[STARTED] = performance.now();
    return config;
  });
  http.interceptors.response.use(
    (res: AxiosResponse) => {
      done(res.config, res.status);
      return res;
    },
    (err: AxiosError) => {
      done(err.config, err.response?.status ?? 'error');
      return Promise.reject(err);
    },
  );
  return http;
}

/**
 * A middleware of the Teams SDK's HTTP client (@microsoft/teams.common `Middleware`: it wraps each
 * outbound request, `next()` being the transport) that meters each call to the Bot Connector.
 */
export function meteringMiddleware(metrics: Metrics, service: string) {
  return {
    async invoke<R>(context: { config: { url?: string } }, next: () => Promise<R>): Promise<R> {
      const endpoint = endpointTemplate(context.config.url ?? '');
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const res = await next();
        observeApiCall(metrics, service, endpoint, (res as { status?: number }).status ?? 'error', seconds());
        return res;
      } catch (err) {
        const status = (err as { response?: { status?: unknown } }).response?.status;
        observeApiCall(metrics, service, endpoint, typeof status === 'number' ? status : 'error', seconds());
        throw err;
      }
    },
  };
}

/** A `fetch` that meters each call (the Slack Web API client takes one). */
export function meteredFetch(metrics: Metrics | undefined, service: string): typeof fetch {
  if (!metrics) return fetch;
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const endpoint = endpointTemplate(url);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const res = await fetch(input, init);
      observeApiCall(metrics, service, endpoint, res.status, seconds());
      return res;
    } catch (err) {
      observeApiCall(metrics, service, endpoint, 'error', seconds());
      throw err;
    }
  };
}
