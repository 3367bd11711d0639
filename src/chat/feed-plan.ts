import { formatPercent, formatPrice, formatScore, formatTime } from '../domain/format.js';
import type { Field, Reply } from '../domain/reply.js';
import { ALERT_TIMES, formatReasons, shortReason } from '../model/reasons.js';
import type { DeliveredWindow, MessageKind } from './delivery-log.js';
import { direction, percentRange, within } from './market-context.js';

/**
 * The feed's pure steps: which messages a cycle's new anomalous windows become (market-wide moves,
 * episodes, or digests in a burst), and what each message says.
 */

/** More episodes than this in one cycle are posted as digests instead (a burst, not a flood). */
const MAX_EPISODE_MESSAGES = 3;
/** Windows per digest message. */
const DIGEST_WINDOWS = 40;
/** Windows further apart than this belong to different episodes of an asset. */
const EPISODE_GAP_MS = 15 * 60_000;
/** Anomalous windows of several assets ending this close together are one move of the market... */
const MARKET_SPAN_MS = 10 * 60_000;
/** ...when they are of at least this many assets, and at least half of all the assets. */
const MARKET_MIN_ASSETS = 3;

/**
 * The messages for a cycle's windows. First the market-wide moves: windows ending within
 * MARKET_SPAN_MS of each other across at least MARKET_MIN_ASSETS assets and half of the
 * `assetCount` assets the lakehouse has are one message instead of one per asset. The rest are
 * episodes per asset; in a burst (many episodes), digests of at most DIGEST_WINDOWS windows.
 */
export function plan(
  windows: DeliveredWindow[],
  assetCount = 0,
): Array<{ kind: MessageKind; windows: DeliveredWindow[] }> {
  const markets = marketMoves(windows, assetCount);
  const taken = new Set(markets.flat());
  const rest = windows.filter((w) => !taken.has(w));
  return [...markets.map((m) => ({ kind: 'market' as const, windows: m })), ...perAsset(rest)];
}

/** Groups of windows that are one move of the market, oldest first. */
function marketMoves(windows: DeliveredWindow[], assetCount: number): DeliveredWindow[][] {
  const needed = Math.max(MARKET_MIN_ASSETS, Math.ceil(assetCount / 2));
  if (assetCount < MARKET_MIN_ASSETS) return [];
  const sorted = windows.slice().sort((a, b) => a.window_end.localeCompare(b.window_end));
  const groups: DeliveredWindow[][] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = Date.parse((sorted[i] as DeliveredWindow).window_end);
    let j = i;
    while (
      j < sorted.length &&
      Date.parse((sorted[j] as DeliveredWindow).window_end) - start <= MARKET_SPAN_MS
    )
      j++;
    const group = sorted.slice(i, j);
    if (new Set(group.map((w) => w.asset)).size >= needed) {
      groups.push(group);
      i = j;
    } else {
      i++;
    }
  }
  return groups;
}

function perAsset(
  windows: DeliveredWindow[],
): Array<{ kind: 'episode' | 'digest'; windows: DeliveredWindow[] }> {
  if (windows.length === 0) return [];
  const episodes: DeliveredWindow[][] = [];
  const byAsset = new Map<string, DeliveredWindow[]>();
  for (const w of windows) byAsset.set(w.asset, [...(byAsset.get(w.asset) ?? []), w]);
  for (const list of byAsset.values()) {
    list.sort((a, b) => a.window_end.localeCompare(b.window_end));
    let current: DeliveredWindow[] = [];
    for (const w of list) {
      const last = current.at(-1);
      if (last && Date.parse(w.window_end) - Date.parse(last.window_end) > EPISODE_GAP_MS) {
        episodes.push(current);
        current = [];
      }
      current.push(w);
    }
    episodes.push(current); // never empty: each asset has a window
  }
  if (episodes.length <= MAX_EPISODE_MESSAGES) return episodes.map((e) => ({ kind: 'episode', windows: e }));
  const ranked = windows.slice().sort((a, b) => a.anomaly_score - b.anomaly_score);
  const digests: Array<{ kind: 'digest'; windows: DeliveredWindow[] }> = [];
  for (let i = 0; i < ranked.length; i += DIGEST_WINDOWS)
    digests.push({ kind: 'digest', windows: ranked.slice(i, i + DIGEST_WINDOWS) });
  return digests;
}

function label(w: DeliveredWindow): string {
  return `${w.asset}${w.symbol ? ` (${w.symbol.toUpperCase()})` : ''}`;
}

const SIMULATED = 'SIMULATED DATA: these prices come from the market simulator';
/** How to read a message's scores; the multiple is the alert rule's (ALERT_TIMES, src/model/reasons.ts). */
const HOW_TO_READ = `Scores below 0 are anomalous to the model (the lower, the more unusual for this asset); a return or range at least ${ALERT_TIMES}× the asset's usual alerts too.`;

function describeWindow(w: DeliveredWindow): string {
  return w.is_anomaly
    ? formatScore(w.anomaly_score)
    : `${formatScore(w.anomaly_score)} (cleared by model v${w.model_version})`;
}

/** The worst window's reasons in words; windows scored before reasons were kept have none to give. */
function whyOf(w: DeliveredWindow): string {
  if (w.reasons === null) return 'not recorded for this window';
  return formatReasons(w.reasons) || 'no single measure stands out: an unusual combination of small moves';
}

/** One asset's episode; `market` says whether the other assets moved with it (market-context.ts). */
export function episodeReply(windows: DeliveredWindow[], market?: Field): Reply {
  const first = windows[0] as DeliveredWindow;
  const last = windows.at(-1) as DeliveredWindow;
  const active = windows.filter((w) => w.is_anomaly);
  const worst = windows.reduce((a, b) => (b.anomaly_score < a.anomaly_score ? b : a));
  const span =
    windows.length === 1
      ? formatTime(first.window_end)
      : `${formatTime(first.window_end)} – ${formatTime(last.window_end)}`;
  return {
    title:
      active.length === 0
        ? `✅ ${label(first)}: anomaly cleared`
        : `🚨 ${label(first)}: ${active.length} anomalous window${active.length === 1 ? '' : 's'}`,
    badge: first.simulated ? SIMULATED : undefined,
    fields: [
      { label: 'Window end (UTC)', value: span },
      { label: 'Lowest score', value: `${describeWindow(worst)} at ${formatTime(worst.window_end)}` },
      { label: 'Why', value: whyOf(worst) },
      {
        label: 'Price',
        value: `${formatPrice(worst.price_avg)} average, range ${formatPercent(worst.ret_window)}`,
      },
      ...(market ? [market] : []),
      { label: 'Model', value: `v${worst.model_version}` },
    ],
    tables:
      windows.length > 1
        ? [
            {
              columns: [
                { header: 'window end' },
                { header: 'score', align: 'right' },
                { header: 'range', align: 'right' },
              ],
              rows: windows.map((w) => [
                formatTime(w.window_end),
                describeWindow(w),
                formatPercent(w.ret_window),
              ]),
            },
          ]
        : [],
    notes: [HOW_TO_READ, `\`/crypto chart ${first.asset} 7d\` for a longer view.`],
    data: { windows },
  };
}

export function digestReply(windows: DeliveredWindow[]): Reply {
  const assets = [...new Set(windows.map((w) => w.asset))];
  const active = windows.filter((w) => w.is_anomaly);
  return {
    title: `🚨 ${active.length} anomalous windows across ${assets.length} asset${assets.length === 1 ? '' : 's'}`,
    badge: windows.some((w) => w.simulated) ? SIMULATED : undefined,
    summary: 'A burst of anomalies, in one message instead of many (lowest score first).',
    tables: [
      {
        columns: [
          { header: 'asset' },
          { header: 'window end' },
          { header: 'score', align: 'right' },
          { header: 'avg price', align: 'right' },
          { header: 'range', align: 'right' },
          { header: 'why' },
        ],
        rows: windows.map((w) => [
          label(w),
          formatTime(w.window_end),
          describeWindow(w),
          formatPrice(w.price_avg),
          formatPercent(w.ret_window),
          shortReason(w.reasons) || '—',
        ]),
      },
    ],
    notes: [HOW_TO_READ, '`/crypto top 50 24h` lists them all.'],
    data: { windows },
  };
}

/**
 * A move of the market in one message: "4 of 5 assets fell 5–9 % within 10 minutes", each asset's
 * move (`moves`, market-context.ts) and its lowest window.
 */
export function marketReply(
  windows: DeliveredWindow[],
  moves: ReadonlyMap<string, number | null>,
  assetCount: number,
): Reply {
  const assets = [...new Set(windows.map((w) => w.asset))].sort();
  const active = windows.filter((w) => w.is_anomaly);
  const known = assets.map((a) => moves.get(a)).filter((m): m is number => m !== null && m !== undefined);
  const worstOf = (asset: string) =>
    windows.filter((w) => w.asset === asset).reduce((a, b) => (b.anomaly_score < a.anomaly_score ? b : a));
  const how = known.length > 0 ? ` ${direction(known)} ${percentRange(known)}` : ' were anomalous';
  return {
    title:
      active.length === 0
        ? `✅ Market move cleared: ${assets.length} assets`
        : `🌐 ${assets.length} of ${Math.max(assetCount, assets.length)} assets${how} ${within(windows)}`,
    badge: windows.some((w) => w.simulated) ? SIMULATED : undefined,
    summary: 'Several assets moved together: a move of the market, in one message instead of one per asset.',
    tables: [
      {
        columns: [
          { header: 'asset' },
          { header: 'move', align: 'right' },
          { header: 'lowest score', align: 'right' },
          { header: 'at' },
          { header: 'why' },
        ],
        rows: assets.map((asset) => {
          const worst = worstOf(asset);
          const move = moves.get(asset);
          return [
            label(worst),
            move === null || move === undefined ? '—' : formatPercent(move, 1),
            describeWindow(worst),
            formatTime(worst.window_end),
            shortReason(worst.reasons) || '—',
          ];
        }),
      },
    ],
    notes: [HOW_TO_READ, '`/crypto top 50 24h` lists every window.'],
    data: { windows },
  };
}
