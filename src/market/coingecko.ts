import axios, { type AxiosError, type AxiosRequestConfig, isAxiosError } from 'axios';
import axiosRetry, { exponentialDelay, isNetworkError, retryAfter } from 'axios-retry';
import { z } from 'zod';
import { meterAxios } from '../api-metrics.js';
import type { DroppedRecords } from '../domain/results.js';
import { ExitCode, UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { scrubErrorsOf } from '../scrub.js';
import { amountProblem, checkMarketRecord, type Problem } from './check-record.js';
import { addDrops, countDrop, describeValue, noDrops } from './drops.js';
import type { MarketRecord } from './record.js';

export type CoinGeckoPlan = 'public' | 'demo' | 'pro';

export interface CoinGeckoOptions {
  plan: CoinGeckoPlan;
  apiKey?: string;
  /** Overrides the plan's root URL, e.g. a loopback emulator. */
  baseUrl?: string;
  timeoutMs: number;
  retries: number;
  /** A Retry-After longer than this fails at once with a clear message instead of waiting. */
  maxRetryAfterMs: number;
  /** Base of the exponential backoff between retries (2×, 4×, 8× this, plus jitter); 500 ms by default. */
  retryBaseDelayMs?: number;
  logger: Logger;
  /** Counts and times every call, each retry apart, by endpoint (api-metrics.ts). */
  metrics?: Metrics;
}

export interface CoinGeckoClient {
  /** Quick reachability check: no retries, short timeout. Resolves or throws UserError. */
  ping(timeoutMs?: number): Promise<void>;
  /**
   * Current market records for these coin ids, checked one by one: a record that is malformed or
   * for an id not asked for is dropped, logged and counted into `drops`, and the rest are returned.
   * Ids CoinGecko doesn't know are logged as a warning and absent from the result.
   */
  markets(ids: readonly string[], drops?: DroppedRecords): Promise<MarketRecord[]>;
  /**
   * The last `days` of history for one coin as market records: one per point of `prices`, with
   * current_price, total_volume (matched by timestamp; null when absent), last_updated = the point's
   * time as ISO-8601 UTC with ms, and id/symbol/name taken from `meta`. Malformed points are dropped
   * and counted into `drops`; beyond `chartPointCap(days)` points only the newest are kept.
   */
  marketChart(
    meta: { id: string; symbol?: string | null; name?: string | null },
    days: number,
    drops?: DroppedRecords,
  ): Promise<MarketRecord[]>;
}

const ROOT_URL: Record<CoinGeckoPlan, string> = {
  public: 'https://api.coingecko.com/api/v3',
  demo: 'https://api.coingecko.com/api/v3',
  pro: 'https://pro-api.coingecko.com/api/v3',
};
/** The header that carries the key; the public plan sends none. */
const KEY_HEADER: Record<CoinGeckoPlan, string | undefined> = {
  public: undefined,
  demo: 'x-cg-demo-api-key',
  pro: 'x-cg-pro-api-key',
};
const VS_CURRENCY = 'usd';
/** CoinGecko's largest page of /coins/markets. */
const PAGE_SIZE = 250;
const PING_TIMEOUT_MS = 5_000;
/**
 * The largest answer read, so a hostile or broken endpoint cannot fill the memory: a page of 250
 * markets is about 0.3 MB and a 90-day hourly chart about 0.2 MB; even a 150,000-point chart (which
 * the point cap then cuts) is about 8 MB. Past it axios stops reading and the call fails.
 */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** The answers' outer shapes; their elements are checked one by one (a bad one costs only itself). */
const marketsSchema = z.array(z.unknown());
const marketChartSchema = z.object({
  prices: z.array(z.unknown()),
  total_volumes: z.array(z.unknown()).nullish(),
});
/** The largest time a JavaScript Date holds, in ms. */
const MAX_TIME_MS = 8.64e15;

/**
 * The most points a market_chart of `days` may bring. CoinGecko's automatic granularity
 * (https://docs.coingecko.com/reference/coins-id-market-chart): 1 day from now = 5-minutely data
 * (288 points), 2–90 days = hourly, above 90 days = daily. Twice that, so an answer with a
 * little overlap is kept whole, while a hostile 150,000-point answer is cut to its newest points.
 */
export function chartPointCap(days: number): number {
  const perDay = days <= 1 ? 288 : days <= 90 ? 24 : 1;
  return 2 * Math.ceil(days * perDay) + 2;
}
const pingSchema = z.object({ gecko_says: z.string() });

export function createCoinGeckoClient(options: CoinGeckoOptions): CoinGeckoClient {
  const { plan, logger, retries, maxRetryAfterMs } = options;
  const apiKey = options.apiKey?.trim() || undefined;
  if (plan === 'pro' && !apiKey) {
    const message =
      'The CoinGecko Pro plan needs an API key: set COINGECKO_API_KEY, or COINGECKO_API_PLAN=demo.';
    throw new UserError(message, { exitCode: ExitCode.Usage });
  }
  const keyHeader = apiKey ? KEY_HEADER[plan] : undefined;
  const baseURL = (options.baseUrl ?? ROOT_URL[plan]).replace(/\/+$/, '');
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 500;

  // Failed calls' errors lose the key header first thing (it comes back from the defaults on a retry).
  const http = scrubErrorsOf(
    meterAxios(
      axios.create({
        baseURL,
        timeout: options.timeoutMs,
        responseType: 'text',
        maxContentLength: MAX_ANSWER_BYTES,
        headers: { accept: 'application/json', ...(keyHeader && apiKey ? { [keyHeader]: apiKey } : {}) },
        transitional: { clarifyTimeoutError: true },
      }),
      options.metrics,
      'coingecko',
    ),
  );

  /** Removes the key from text CoinGecko (or anyone) sends back, before it reaches a message. */
  const clean = (text: string) => (apiKey ? text.split(apiKey).join('[redacted]') : text);
  const waitTooLong = (error: AxiosError) => retryAfter(error) > maxRetryAfterMs;
  /** Waits computed by `retryDelay`, read back by `onRetry` for its log line. */
  const waits = new WeakMap<AxiosError, number>();

  axiosRetry(http, {
    retries,
    shouldResetTimeout: true,
    retryCondition: (error) => {
      if (error.config?.method?.toLowerCase() !== 'get' || waitTooLong(error) || tooLarge(error))
        return false;
      const status = error.response?.status;
      if (status !== undefined) return status === 429 || (status >= 500 && status <= 599);
      return isTimeout(error) || isNetworkError(error);
    },
    retryDelay: (retryCount, error) => {
      const wait = Math.round(exponentialDelay(retryCount, error, retryBaseDelayMs));
      waits.set(error, wait);
      return wait;
    },
    onRetry: (retryCount, error, config) => {
      const wait = waits.get(error) ?? 0;
      const reason = describeFailure(error);
      logger.warn(
        { path: config.url, retry: retryCount, retries, reason, waitMs: wait },
        `CoinGecko request failed (${reason}); retry ${retryCount} of ${retries} in ${duration(wait)}`,
      );
    },
  });

  async function get<S extends z.ZodType>(
    path: string,
    params: Record<string, string | number | boolean>,
    schema: S,
    config: AxiosRequestConfig = {},
  ): Promise<z.output<S>> {
    const started = Date.now();
    let text: string;
    try {
      const response = await http.get<string>(path, { ...config, params });
      text = response.data;
      logger.debug({ path, status: response.status, ms: Date.now() - started }, 'CoinGecko answered');
    } catch (err) {
      throw toUserError(err, path);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw unexpected(path, `the body is not JSON (${preview(text)})`, err);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      // An HTTP 200 carrying CoinGecko's error object instead of data: say what it said.
      const upstream = errorMessage(text);
      const detail = upstream
        ? `an error instead of data ("${upstream}")`
        : describeIssues(parsed.error.issues);
      throw unexpected(path, detail, parsed.error);
    }
    return parsed.data;
  }

  function unexpected(path: string, detail: string, cause: unknown): UserError {
    return new UserError(`CoinGecko returned an unexpected response for ${path}: ${clean(detail)}`, {
      cause,
    });
  }

  function toUserError(err: unknown, path: string): UserError {
    if (!isAxiosError(err)) {
      const message = err instanceof Error ? err.message : String(err);
      return new UserError(`The request to CoinGecko (${path}) failed: ${clean(message)}`, { cause: err });
    }
    // Headers, auth and the raw request are gone already (scrubErrorsOf); an error body that echoes
    // the key is CoinGecko's own text and only this client knows the key to look for.
    if (typeof err.response?.data === 'string') err.response.data = clean(err.response.data);
    const retried = err.config?.['axios-retry']?.retryCount ?? 0;
    const after = retried > 0 ? ` after ${retried} ${retried === 1 ? 'retry' : 'retries'}` : '';
    const status = err.response?.status;
    const upstream = errorMessage(err.response?.data);
    const says = upstream ? ` ("${clean(upstream)}")` : '';
    const moreQuota =
      plan === 'public' ? 'set COINGECKO_API_KEY for a higher limit' : 'poll fewer assets or less often';
    const message = ((): string => {
      if (tooLarge(err)) {
        return `CoinGecko's answer for ${path} was larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB, so it was not read; check COINGECKO_API_URL, or try again later.`;
      }
      if (status !== undefined && waitTooLong(err)) {
        const wait = `asks to wait ${duration(retryAfter(err))} (Retry-After), longer than the ${duration(maxRetryAfterMs)} this client waits`;
        return status === 429
          ? `CoinGecko rate-limited the request (HTTP 429) and ${wait}; wait and try again, or ${moreQuota}.`
          : `CoinGecko answered HTTP ${status} for ${path} and ${wait}; try again later.`;
      }
      if (status === 429) {
        return `CoinGecko rate-limited the request (HTTP 429) and still did${after}; wait a minute or ${moreQuota}.`;
      }
      if (status === 401 || status === 403) {
        return apiKey
          ? `CoinGecko answered HTTP ${status}: the API key was refused${says}; check COINGECKO_API_KEY and COINGECKO_API_PLAN.`
          : `CoinGecko answered HTTP ${status}: access was refused without an API key${says}; set COINGECKO_API_KEY (and COINGECKO_API_PLAN) or try again later.`;
      }
      if (status !== undefined && status >= 500) {
        return `CoinGecko answered HTTP ${status} for ${path}${says} and still did${after}; CoinGecko seems to be having trouble, try again later.`;
      }
      if (status !== undefined) {
        return `CoinGecko answered HTTP ${status} for ${path}${says}; check the coin ids, COINGECKO_API_URL and COINGECKO_API_PLAN.`;
      }
      if (isTimeout(err)) {
        const limit = err.config?.timeout ? `within ${duration(err.config.timeout)} ` : '';
        return `CoinGecko did not answer ${limit}(timeout)${after}; check the network or try again.`;
      }
      const hint = options.baseUrl
        ? 'check the network connection and COINGECKO_API_URL'
        : 'check the network connection';
      return `CoinGecko could not be reached (${describeFailure(err)} ${new URL(baseURL).host})${after}: ${hint}.`;
    })();
    return new UserError(message, { cause: err });
  }

  /** One warning per answer with drops: counts by reason and a short sample, never whole records. */
  function reportDrops(path: string, dropped: DroppedRecords): void {
    if (dropped.count === 0) return;
    logger.warn(
      { path, dropped: dropped.count, reasons: dropped.reasons, sample: dropped.sample },
      `CoinGecko ${path}: dropped ${dropped.count} bad value(s) and kept the rest`,
    );
  }

  return {
    async ping(timeoutMs = Math.min(options.timeoutMs, PING_TIMEOUT_MS)) {
      await get('/ping', {}, pingSchema, { timeout: timeoutMs, 'axios-retry': { retries: 0 } });
    },

    async markets(ids, drops = noDrops()) {
      const wanted = [...new Set(ids)];
      const asked = new Set(wanted);
      const records: MarketRecord[] = [];
      const dropped = noDrops();
      const landed = new Set<string>();
      /** Requested ids with a record in the answer, usable or not. */
      const answered = new Set<string>();
      for (let i = 0; i < wanted.length; i += PAGE_SIZE) {
        const page = await get(
          '/coins/markets',
          {
            vs_currency: VS_CURRENCY,
            ids: wanted.slice(i, i + PAGE_SIZE).join(','),
            per_page: PAGE_SIZE,
            page: 1,
            sparkline: false,
          },
          marketsSchema,
        );
        for (const [n, raw] of page.entries()) {
          const checked = checkMarketRecord(raw, asked);
          const where = i === 0 ? `/coins/markets[${n}]` : `/coins/markets page ${i / PAGE_SIZE + 1} [${n}]`;
          const id = (raw as { id?: unknown } | null)?.id;
          if (typeof id === 'string' && asked.has(id)) answered.add(id);
          if ('problem' in checked) countDrop(dropped, where, checked.problem);
          else if (landed.has(checked.record.id)) {
            const detail = `id ${describeValue(checked.record.id)} came twice`;
            countDrop(dropped, where, { reason: 'id came twice', detail });
          } else {
            landed.add(checked.record.id);
            records.push(checked.record);
          }
        }
      }
      reportDrops('/coins/markets', dropped);
      addDrops(drops, dropped);
      const unknown = wanted.filter((id) => !answered.has(id));
      if (unknown.length > 0) {
        logger.warn(
          { ids: unknown },
          `CoinGecko does not know ${unknown.join(', ')}; skipping them (check CRYPTO_ASSETS)`,
        );
      }
      return records;
    },

    async marketChart(meta, days, drops = noDrops()) {
      if (!Number.isFinite(days) || days <= 0) {
        throw new UserError(`A CoinGecko history needs a positive number of days, not ${days}.`, {
          exitCode: ExitCode.Usage,
        });
      }
      const path = `/coins/${encodeURIComponent(meta.id)}/market_chart`;
      const chart = await get(path, { vs_currency: VS_CURRENCY, days }, marketChartSchema);
      const dropped = noDrops();
      let prices = points(chart.prices, `${path} prices`, dropped);
      const cap = chartPointCap(days);
      if (prices.length > cap) {
        if (!isSortedByTime(prices)) prices.sort((a, b) => a[0] - b[0]);
        const reason = `beyond the ${cap}-point cap (oldest dropped)`;
        countDrop(dropped, `${path} prices`, { reason }, prices.length - cap);
        prices = prices.slice(prices.length - cap);
      }
      const wantedTimes = new Set(prices.map(([ms]) => ms));
      const volumes = new Map<number, number | null>();
      const volumeDrops = noDrops();
      for (const [ms, volume] of points(chart.total_volumes ?? [], `${path} total_volumes`, volumeDrops)) {
        if (wantedTimes.has(ms)) volumes.set(ms, volume);
      }
      addDrops(dropped, volumeDrops);
      reportDrops(path, dropped);
      addDrops(drops, dropped);
      return prices.map(([ms, price]) => ({
        id: meta.id,
        symbol: meta.symbol ?? null,
        name: meta.name ?? null,
        current_price: price,
        total_volume: volumes.get(ms) ?? null,
        last_updated: new Date(ms).toISOString(),
      }));
    },
  };
}

type Point = [ms: number, value: number | null];

/**
 * The well-formed `[ms, value]` points of a market_chart series; a malformed one (not a pair, a
 * time that is no instant, a value that is not null or a finite number ≥ 0) is dropped and counted.
 */
function points(series: readonly unknown[], where: string, dropped: DroppedRecords): Point[] {
  const out: Point[] = [];
  for (const [i, raw] of series.entries()) {
    const problem = pointProblem(raw);
    if (problem) countDrop(dropped, `${where}[${i}]`, problem);
    else out.push(raw as Point);
  }
  return out;
}

function pointProblem(raw: unknown): Problem | undefined {
  if (!Array.isArray(raw) || raw.length < 2) {
    return { reason: 'point is not a [time, value] pair', detail: `the point is ${describeValue(raw)}` };
  }
  const [ms, value] = raw as unknown[];
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > MAX_TIME_MS) {
    return { reason: 'point time is not a time in ms', detail: `time ${describeValue(ms)}` };
  }
  return amountProblem(value, 'value');
}

function isSortedByTime(series: readonly Point[]): boolean {
  for (let i = 1; i < series.length; i++)
    if ((series[i] as Point)[0] < (series[i - 1] as Point)[0]) return false;
  return true;
}

/** axios stopped reading an answer past `maxContentLength` (its message is the only mark). */
function tooLarge(error: AxiosError): boolean {
  return error.code === 'ERR_BAD_RESPONSE' && /maxContentLength size of \d+ exceeded/.test(error.message);
}

function isTimeout(error: AxiosError): boolean {
  return error.code === 'ETIMEDOUT' || error.code === 'ECONNABORTED';
}

/** A short reason for a failed attempt, without secrets: "HTTP 429", "timeout", "ECONNRESET". */
function describeFailure(error: AxiosError): string {
  if (error.response) return `HTTP ${error.response.status}`;
  if (isTimeout(error)) return 'timeout';
  return error.code ?? error.message;
}

/** CoinGecko's own words from an error body: `{"status":{"error_message":…}}` or `{"error":…}`. */
function errorMessage(body: unknown): string | undefined {
  if (typeof body !== 'string' || body === '') return undefined;
  try {
    const json = JSON.parse(body) as { status?: { error_message?: unknown }; error?: unknown };
    const text = json?.status?.error_message ?? json?.error;
    return typeof text === 'string' ? truncate(text, 160) : undefined;
  } catch {
    return undefined;
  }
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 3).map((issue) => {
    const at = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    return at ? `${at.replace(/^\./, '')}: ${issue.message}` : issue.message;
  });
  const more = issues.length > shown.length ? ` (and ${issues.length - shown.length} more)` : '';
  return `${shown.join('; ')}${more}`;
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat === '' ? 'empty body' : `starts with ${JSON.stringify(truncate(flat, 40))}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 100) / 10} s`;
}
