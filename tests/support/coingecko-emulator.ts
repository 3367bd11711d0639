import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback CoinGecko: a real HTTP server on 127.0.0.1 answering the documented shapes of
 * `/ping`, `/coins/markets` and `/coins/{id}/market_chart`, with faults to queue for the next
 * requests (error statuses, late answers, malformed or hostile bodies, reset connections).
 */
export interface CoinGeckoEmulator {
  /** Root URL, e.g. http://127.0.0.1:PORT/api/v3 */
  url: string;
  requests: Array<{
    method: string;
    /** Path below the root URL, e.g. /coins/markets */
    path: string;
    query: Record<string, string>;
    headers: Record<string, string | undefined>;
  }>;
  /** Queue faults for the next requests, consumed in order. */
  fault(...f: Fault[]): void;
  close(): Promise<void>;
}

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  /** Answer late (timeouts). */
  | { kind: 'delay'; ms: number }
  /** Malformed body with 200. */
  | { kind: 'body'; body: string }
  /** Any JSON value with 200: null, an object where an array belongs, records of the wrong types. */
  | { kind: 'json'; body: unknown }
  /**
   * HTTP 200 whose body is CoinGecko's error object instead of data, the shape its error answers
   * take (https://docs.coingecko.com/reference/common-errors-rate-limit).
   */
  | { kind: 'error-200'; message: string }
  /** A market_chart of this many five-minute points ending at `end` (ms; now by default), whatever `days` asked for. */
  | { kind: 'long-chart'; points: number; end?: number }
  /** Destroy the socket. */
  | { kind: 'reset' };

export interface CoinGeckoEmulatorOptions {
  markets?: (ids: string[]) => unknown[];
  chart?: (id: string, days: number) => unknown;
}

const ROOT = '/api/v3';
const SAMPLE_FILE = new URL('../../../shared/data/coingecko_markets_sample.json', import.meta.url);
const FIVE_MINUTES = 5 * 60_000;

type Market = Record<string, unknown> & { id: string; current_price: number; total_volume: number };

/** Used when the shared sample is not there (a clone without ../shared): same shape as CoinGecko's. */
const BUILT_IN_BITCOIN: Market = {
  id: 'bitcoin',
  symbol: 'btc',
  name: 'Bitcoin',
  image: 'https://assets.coingecko.com/coins/images/1/large/bitcoin.png?1696501400',
  current_price: 70187,
  market_cap: 1381651251183,
  market_cap_rank: 1,
  fully_diluted_valuation: 1474623675796,
  total_volume: 20154184933,
  high_24h: 70215,
  low_24h: 68060,
  price_change_24h: 2126.88,
  price_change_percentage_24h: 3.12502,
  market_cap_change_24h: 44287678051,
  market_cap_change_percentage_24h: 3.31157,
  circulating_supply: 19675987,
  total_supply: 21000000,
  max_supply: 21000000,
  ath: 73738,
  ath_change_percentage: -4.77063,
  ath_date: '2024-03-14T07:10:36.635Z',
  atl: 67.81,
  atl_change_percentage: 103455.83335,
  atl_date: '2013-07-06T00:00:00.000Z',
  roi: null,
  last_updated: '2024-04-07T16:49:31.736Z',
};

const RATE_LIMIT_BODY = JSON.stringify({
  status: {
    error_code: 429,
    error_message:
      "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans for higher rate limits.",
  },
});

export async function startCoinGeckoEmulator(
  options: CoinGeckoEmulatorOptions = {},
): Promise<CoinGeckoEmulator> {
  const bitcoin = await loadSampleBitcoin();
  const marketsFor = options.markets ?? ((ids: string[]) => defaultMarkets(bitcoin, ids));
  const chartFor =
    options.chart ?? ((id: string, days: number) => defaultChart(marketFor(bitcoin, id), days, Date.now()));
  const requests: CoinGeckoEmulator['requests'] = [];
  const faults: Fault[] = [];
  const timers = new Set<NodeJS.Timeout>();

  function route(path: string, query: Record<string, string>): { status: number; body: unknown } {
    // https://docs.coingecko.com/reference/ping-server
    if (path === '/ping') return { status: 200, body: { gecko_says: '(V3) To the Moon!' } };
    // https://docs.coingecko.com/reference/coins-markets: vs_currency is required, per_page is 1–250.
    if (path === '/coins/markets') {
      if (!query.vs_currency) return { status: 400, body: { error: 'Missing parameter vs_currency' } };
      const perPage = Number(query.per_page ?? '100');
      if (!Number.isInteger(perPage) || perPage < 1 || perPage > 250) {
        return { status: 400, body: { error: 'per_page must be between 1 and 250' } };
      }
      const ids = (query.ids ?? '').split(',').filter((id) => id !== '');
      return { status: 200, body: marketsFor(ids) };
    }
    // https://docs.coingecko.com/reference/coins-id-market-chart: vs_currency and days are required;
    // an unknown id is a 404.
    const chart = /^\/coins\/([^/]+)\/market_chart$/.exec(path);
    if (chart?.[1]) {
      const id = decodeURIComponent(chart[1]);
      if (!query.vs_currency) return { status: 400, body: { error: 'Missing parameter vs_currency' } };
      if (id.includes('unknown')) return { status: 404, body: { error: 'coin not found' } };
      return { status: 200, body: chartFor(id, Number(query.days ?? '1')) };
    }
    return { status: 404, body: { status: { error_code: 404, error_message: `Unknown path ${path}` } } };
  }

  function answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.startsWith(`${ROOT}/`) ? url.pathname.slice(ROOT.length) : url.pathname;
    const query = Object.fromEntries(url.searchParams);
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
    );
    requests.push({ method: req.method ?? 'GET', path, query, headers });

    const fault = faults.shift();
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      const body =
        fault.body ??
        (fault.status === 429 ? RATE_LIMIT_BODY : JSON.stringify({ error: `HTTP ${fault.status}` }));
      send(res, fault.status, body, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      return;
    }
    if (fault?.kind === 'body') {
      send(res, 200, fault.body);
      return;
    }
    if (fault?.kind === 'json') {
      send(res, 200, JSON.stringify(fault.body));
      return;
    }
    if (fault?.kind === 'error-200') {
      send(res, 200, JSON.stringify({ status: { error_code: 200, error_message: fault.message } }));
      return;
    }
    if (fault?.kind === 'long-chart') {
      send(res, 200, JSON.stringify(longChart(fault.points, fault.end ?? Date.now())));
      return;
    }
    const reply = () => {
      if (res.destroyed) return;
      try {
        const { status, body } = url.pathname.startsWith(`${ROOT}/`)
          ? route(path, query)
          : { status: 404, body: { error: 'Not Found' } };
        send(res, status, JSON.stringify(body));
      } catch (err) {
        send(res, 500, JSON.stringify({ error: String(err) }));
      }
    };
    if (fault?.kind === 'delay') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply();
      }, fault.ms);
      timers.add(timer);
      return;
    }
    reply();
  }

  const server = createServer(answer);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${ROOT}`,
    requests,
    fault(...f) {
      for (const one of f) faults.push(one);
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

async function loadSampleBitcoin(): Promise<Market> {
  try {
    const sample = JSON.parse(await readFile(SAMPLE_FILE, 'utf8')) as Market[];
    return sample.find((r) => r.id === 'bitcoin') ?? BUILT_IN_BITCOIN;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return BUILT_IN_BITCOIN;
    throw err;
  }
}

/** Bitcoin as in the sample; other ids derived from it; ids containing "unknown" omitted, as CoinGecko does. */
function defaultMarkets(bitcoin: Market, ids: string[]): Market[] {
  return ids.filter((id) => !id.includes('unknown')).map((id) => marketFor(bitcoin, id));
}

function marketFor(bitcoin: Market, id: string): Market {
  if (id === 'bitcoin') return bitcoin;
  const hash = [...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const scale = 1 / (2 + (hash % 5000));
  return {
    ...bitcoin,
    id,
    symbol: id.replace(/-/g, '').slice(0, 4),
    name: id
      .split('-')
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join(' '),
    current_price: Number((bitcoin.current_price * scale).toPrecision(6)),
    total_volume: Math.round(bitcoin.total_volume * scale * 10),
    market_cap_rank: 2 + (hash % 500),
    last_updated: new Date().toISOString(),
  };
}

/**
 * Points ending now at CoinGecko's automatic granularity
 * (https://docs.coingecko.com/reference/coins-id-market-chart): 5-minutely within 1 day, hourly
 * for 2–90 days, daily above.
 */
function defaultChart(market: Market, days: number, now: number) {
  const step = days <= 1 ? FIVE_MINUTES : days <= 90 ? 12 * FIVE_MINUTES : 288 * FIVE_MINUTES;
  const count = Math.max(1, Math.round((days * 24 * 60 * 60_000) / step));
  const times = Array.from({ length: count }, (_, i) => now - (count - 1 - i) * step);
  const price = (i: number) => Number((market.current_price * (1 + 0.01 * Math.sin(i / 12))).toPrecision(8));
  const volume = (i: number) => Math.round(market.total_volume * (1 + 0.2 * Math.cos(i / 7)));
  return {
    prices: times.map((t, i) => [t, price(i)]),
    market_caps: times.map((t, i) => [t, Math.round(price(i) * 19_675_987)]),
    total_volumes: times.map((t, i) => [t, volume(i)]),
  };
}

/** `count` five-minute points ending at `end`, oldest first, built in loops (no spread of big arrays). */
function longChart(count: number, end: number) {
  const prices: Array<[number, number]> = [];
  const volumes: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const t = end - (count - 1 - i) * FIVE_MINUTES;
    prices.push([t, 100 + (i % 1000) / 100]);
    volumes.push([t, 1e9 + i]);
  }
  return { prices, market_caps: [], total_volumes: volumes };
}
