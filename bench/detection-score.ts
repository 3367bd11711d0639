/**
 * How bench/detection scores flags against ground truth.
 * - An event is found when a flagged window of its asset overlaps it: the window ends in
 *   (start, end + 10 min].
 * - Alerts are episodes, as the feed groups flagged windows (src/chat/feed-plan.ts): windows of an
 *   asset further apart than 15 minutes start a new episode. A false alert is an episode none of whose
 *   windows overlaps an event; a false flag is a flagged window that overlaps none.
 * - Which windows alert is a rule (Rule below): the product's is the stored `is_anomaly` (isAlert of
 *   src/model/reasons.ts); the others are alternatives measured against it, from the stored score and
 *   reasons.
 */
import { parseReasons } from '../src/model/reasons.js';

export interface Flag {
  asset: string;
  window_end: string;
  reasons: string | null;
  data_issue: string | null;
}

export interface TruthEvent {
  asset: string;
  kind: string;
  start_ts: string;
  end_ts: string;
  /** The jump or crash as a fraction, the volume multiple (for --explain). */
  magnitude?: number;
}

/** The kinds that move the price; the others (volume spikes, frozen feeds) are reported apart. */
const PRICE_KINDS = new Set(['jump', 'flash_crash']);
/** As EPISODE_GAP_MS in src/chat/feed-plan.ts. */
const EPISODE_GAP_MS = 15 * 60_000;
const AFTER_MS = 10 * 60_000;

export interface Scored {
  /** found / total per kind, kinds sorted. */
  byKind: Array<{ kind: string; found: number; total: number }>;
  priceFound: number;
  priceTotal: number;
  falseAlerts: number;
  alerts: number;
  falseFlags: number;
  flags: number;
}

/**
 * Which windows alert: `model` is the product (the stored is_anomaly: the forest's flag or a return
 * or range at ≥ ALERT_TIMES × usual); `forest` is the forest's flag alone (score < 0); `either:N` is
 * the product's rule at N× instead (`either:12` is `model` at ALERT_TIMES = 12).
 */
export type Rule = { kind: 'model' } | { kind: 'forest' } | { kind: 'either'; times: number };

export function parseRule(text: string): Rule {
  if (text === 'model' || text === 'forest') return { kind: text };
  const [kind, times] = text.split(':');
  if (kind === 'either' && Number(times) > 0) return { kind, times: Number(times) };
  throw new Error(`a rule is model, forest or either:N (not ${text})`);
}

export function ruleName(rule: Rule): string {
  return rule.kind === 'either' ? `either:${rule.times}` : rule.kind;
}

export function applyRule(
  windows: ReadonlyArray<Flag & { is_anomaly: number; anomaly_score: number }>,
  rule: Rule,
): Flag[] {
  if (rule.kind === 'model') return windows.filter((w) => w.is_anomaly === 1);
  if (rule.kind === 'forest') return windows.filter((w) => w.anomaly_score < 0);
  const { times } = rule;
  return windows.filter(
    (w) =>
      w.anomaly_score < 0 ||
      parseReasons(w.reasons).some(
        (r) => (r.feature === 'return' || r.feature === 'range') && r.times !== null && r.times >= times,
      ),
  );
}

export function score(flags: readonly Flag[], events: readonly TruthEvent[]): Scored {
  const overlaps = (e: TruthEvent, f: Flag) => {
    const end = Date.parse(f.window_end);
    return f.asset === e.asset && end > Date.parse(e.start_ts) && end <= Date.parse(e.end_ts) + AFTER_MS;
  };
  const onEvent = (f: Flag) => events.some((e) => overlaps(e, f));
  const found = events.filter((e) => flags.some((f) => overlaps(e, f)));
  const kinds = [...new Set(events.map((e) => e.kind))].sort();
  const episodes = episodesOf(flags);
  return {
    byKind: kinds.map((kind) => ({
      kind,
      found: found.filter((e) => e.kind === kind).length,
      total: events.filter((e) => e.kind === kind).length,
    })),
    priceFound: found.filter((e) => PRICE_KINDS.has(e.kind)).length,
    priceTotal: events.filter((e) => PRICE_KINDS.has(e.kind)).length,
    falseAlerts: episodes.filter((ep) => !ep.some(onEvent)).length,
    alerts: episodes.length,
    falseFlags: flags.filter((f) => !onEvent(f)).length,
    flags: flags.length,
  };
}

function episodesOf(flags: readonly Flag[]): Flag[][] {
  const episodes: Flag[][] = [];
  const byAsset = new Map<string, Flag[]>();
  for (const f of flags) byAsset.set(f.asset, [...(byAsset.get(f.asset) ?? []), f]);
  for (const list of byAsset.values()) {
    list.sort((a, b) => a.window_end.localeCompare(b.window_end));
    let current: Flag[] = [];
    for (const f of list) {
      const last = current.at(-1);
      if (last && Date.parse(f.window_end) - Date.parse(last.window_end) > EPISODE_GAP_MS) {
        episodes.push(current);
        current = [];
      }
      current.push(f);
    }
    if (current.length > 0) episodes.push(current);
  }
  return episodes;
}

const pct = (n: number, d: number) => `${((100 * n) / Math.max(1, d)).toFixed(0)}%`;

/** The figures of one configuration, after its label. */
export function describe(s: Scored, assetDays: number): string {
  const price = s.byKind.filter((k) => PRICE_KINDS.has(k.kind));
  const other = s.byKind.filter((k) => !PRICE_KINDS.has(k.kind));
  const perDay = (n: number) => (n / assetDays).toFixed(1);
  return (
    `price recall ${s.priceFound}/${s.priceTotal} (${pct(s.priceFound, s.priceTotal)}; ` +
    `${price.map((k) => `${k.kind} ${k.found}/${k.total}`).join(', ')}); ` +
    `${other.map((k) => `${k.kind} ${k.found}/${k.total}`).join(', ') || 'no other events'}; ` +
    `false alerts ${perDay(s.falseAlerts)} per asset-day (${s.falseAlerts} of ${s.alerts} episodes); ` +
    `false flags ${perDay(s.falseFlags)} per asset-day (${s.falseFlags} of ${s.flags} flagged windows)`
  );
}

/** The issue's target on real prices: recall ≥ 0.95 on price events at ≤ 1 false alert per asset-day. */
export function meetsTarget(s: Scored, assetDays: number): boolean {
  return s.priceFound >= 0.95 * s.priceTotal && s.falseAlerts <= assetDays;
}

/**
 * For --explain: each missed event with the best score among the windows overlapping it, and each
 * false alert episode with its windows' best score and reasons.
 */
export function explain(
  windows: ReadonlyArray<Flag & { anomaly_score: number }>,
  flags: readonly Flag[],
  events: readonly TruthEvent[],
): string[] {
  const overlaps = (e: TruthEvent, f: Flag) => {
    const end = Date.parse(f.window_end);
    return f.asset === e.asset && end > Date.parse(e.start_ts) && end <= Date.parse(e.end_ts) + AFTER_MS;
  };
  const lines: string[] = [];
  for (const e of events) {
    if (flags.some((f) => overlaps(e, f))) continue;
    const near = windows.filter((w) => overlaps(e, w)).sort((a, b) => a.anomaly_score - b.anomaly_score);
    const best = near[0];
    lines.push(
      `missed ${e.kind} ${e.asset} ${e.start_ts} magnitude ${e.magnitude?.toFixed(4) ?? '?'}: best score ` +
        `${best?.anomaly_score.toFixed(4) ?? '-'} reasons ${best?.reasons ?? '-'}`,
    );
  }
  const byKey = new Map(windows.map((w) => [`${w.asset} ${w.window_end}`, w]));
  for (const ep of episodesOf(flags)) {
    if (ep.some((f) => events.some((e) => overlaps(e, f)))) continue;
    const scored = ep.map((f) => byKey.get(`${f.asset} ${f.window_end}`) as Flag & { anomaly_score: number });
    const best = scored.slice().sort((a, b) => a.anomaly_score - b.anomaly_score)[0];
    lines.push(
      `false alert ${ep[0]?.asset} ${ep[0]?.window_end} (${ep.length} windows): best score ` +
        `${best?.anomaly_score.toFixed(4)} reasons ${best?.reasons} ${best?.data_issue ?? ''}`,
    );
  }
  return lines;
}
