import { formatPercent, formatPrice, formatScore, formatTime } from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import { formatReasons, shortReason } from '../model/reasons.js';
import type { DeliveredWindow } from './delivery-log.js';

/**
 * The feed's pure steps: which messages a cycle's new anomalous windows become (episodes, or
 * digests in a burst), and what each message says.
 */

/** More episodes than this in one cycle are posted as digests instead (a burst, not a flood). */
const MAX_EPISODE_MESSAGES = 3;
/** Windows per digest message. */
const DIGEST_WINDOWS = 40;
/** Windows further apart than this belong to different episodes of an asset. */
const EPISODE_GAP_MS = 15 * 60_000;

/** Episodes per asset; in a burst (many episodes), digests of at most DIGEST_WINDOWS windows. */
export function plan(
  windows: DeliveredWindow[],
): Array<{ kind: 'episode' | 'digest'; windows: DeliveredWindow[] }> {
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
const HOW_TO_READ = 'Scores below 0 are anomalous: the lower, the more unusual for this asset.';

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

export function episodeReply(windows: DeliveredWindow[]): Reply {
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
