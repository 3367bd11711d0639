import { z } from 'zod';
import { durationSchema, formatDurationSpec } from '../domain/duration.js';
import {
  formatAge,
  formatCount,
  formatPercent,
  formatPrice,
  formatScore,
  formatTime,
} from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import { coinIdSchema } from '../market/record.js';
import { shortReason } from '../model/reasons.js';
import type { LakehouseRead, Platform } from '../platform/port.js';
import { priceChart } from './chart.js';
import type { Silences } from './silences.js';
import { describeIssues, type Parsed, parsed, problem } from './slash.js';

export const topArgsSchema = z.object({
  limit: z.coerce
    .number({ error: 'N must be a whole number from 1 to 500' })
    .int({ error: 'N must be a whole number from 1 to 500' })
    .min(1, { error: 'N must be a whole number from 1 to 500' })
    .max(500, { error: 'N must be a whole number from 1 to 500' })
    .default(10),
  since: durationSchema.default(24 * 3_600_000),
  asset: coinIdSchema.optional(),
});
export type TopArgs = z.infer<typeof topArgsSchema>;

/**
 * `top [N] [period] [asset]` in any order: a number is N, a number with a unit is the period,
 * anything else the asset; one value per slot.
 */
export function topTokens(tokens: readonly string[]): Parsed<TopArgs> {
  const raw: Record<string, string> = {};
  for (const token of tokens) {
    const slot = /^\d+$/.test(token) ? 'limit' : /^\d+[a-z]$/i.test(token) ? 'since' : 'asset';
    if (raw[slot] !== undefined)
      return problem(`\`top\` got two values for ${slot === 'limit' ? 'N' : slot}.`);
    raw[slot] = token;
  }
  const result = topArgsSchema.safeParse(raw);
  return result.success ? parsed(result.data) : problem(describeIssues(result.error));
}

/** What `top` is about to read (so the platform can tell whether it needs a warm-up). */
export function topRead(args: TopArgs): LakehouseRead {
  return {
    kind: 'top',
    sinceMs: args.since,
    limit: args.limit,
    ...(args.asset ? { asset: args.asset } : {}),
  };
}

/** The leaderboard of anomalies per asset and the N most anomalous windows in a period. */
export async function topCommand(
  args: TopArgs,
  deps: { platform: Platform; now: Date; silences?: Silences },
): Promise<Reply> {
  const since = new Date(deps.now.getTime() - args.since);
  const result = await deps.platform.reads.topAnomalies({
    limit: args.limit,
    since,
    until: deps.now,
    asset: args.asset,
  });
  const period = formatDurationSpec(args.since);
  const scope = args.asset ? ` for ${args.asset}` : '';
  const simulated = [
    ...new Set([...result.leaderboard, ...result.windows].filter((r) => r.simulated).map((r) => r.asset)),
  ];
  const total = result.leaderboard.reduce((n, r) => n + r.anomalies, 0);
  const notes: string[] = [];
  if (result.scored_windows === 0) {
    notes.push(
      `No windows were scored in the last ${period}${scope}: anomaly scores appear once the model has scored Gold windows.`,
    );
  } else if (total === 0) {
    notes.push(`${formatCount(result.scored_windows)} windows were scored; none was anomalous.`);
  }
  if (result.as_of) notes.push(servedNote(result.as_of, deps.now));
  // Muted windows are listed as any other: a silence only keeps them out of the feed.
  const mutedBy = deps.silences ? await deps.silences.covering(result.windows) : () => undefined;
  const muted = result.windows.filter((w) => mutedBy(w));
  if (muted.length > 0)
    notes.push(
      `🔕 muted: ${formatCount(muted.length)} window(s) a silence covered, not posted in the feed (\`mutes\` lists the silences).`,
    );
  const chartAsset = args.asset ?? result.leaderboard[0]?.asset;
  const chart = chartAsset ? await priceChart({ asset: chartAsset, sinceMs: args.since }, deps) : undefined;
  return {
    title: `Top anomalies, last ${period}${scope}`,
    chart,
    badge:
      simulated.length > 0
        ? `SIMULATED DATA: ${simulated.join(', ')} come from the market simulator`
        : undefined,
    summary:
      total > 0
        ? `${formatCount(total)} anomalous windows across ${result.leaderboard.length} asset(s), out of ${formatCount(result.scored_windows)} scored.`
        : undefined,
    tables: [
      {
        title: 'Leaderboard',
        columns: [
          { header: 'asset' },
          { header: 'anomalies', align: 'right' },
          { header: 'mean score', align: 'right' },
          { header: 'last event' },
        ],
        rows: result.leaderboard.map((r) => [
          label(r.asset, r.symbol, r.simulated),
          formatCount(r.anomalies),
          formatScore(r.mean_score),
          formatTime(r.last_event),
        ]),
      },
      {
        title: `Most anomalous windows (lowest score first, up to ${args.limit})`,
        columns: [
          { header: 'window end' },
          { header: 'asset' },
          { header: 'score', align: 'right' },
          { header: 'avg price', align: 'right' },
          { header: 'range', align: 'right' },
          { header: 'model', align: 'right' },
          { header: 'why' },
        ],
        rows: result.windows.map((w) => [
          formatTime(w.window_end),
          label(w.asset, w.symbol, w.simulated),
          formatScore(w.anomaly_score),
          formatPrice(w.price_avg),
          formatPercent(w.ret_window),
          `v${w.model_version}`,
          `${mutedBy(w) ? '🔕 muted · ' : ''}${shortReason(w.reasons) || '—'}`,
        ]),
      },
    ],
    notes,
    data: {
      period: period,
      since: since.toISOString(),
      until: deps.now.toISOString(),
      asset: args.asset ?? null,
      ...result,
      ...(deps.silences ? { muted: muted.map((w) => ({ asset: w.asset, window_end: w.window_end })) } : {}),
    },
  };
}

function label(asset: string, symbol: string | null, simulated: boolean): string {
  return `${asset}${symbol ? ` (${symbol.toUpperCase()})` : ''}${simulated ? ' [sim]' : ''}`;
}

/** Where an answer from a published snapshot comes from, and how old it is. */
export function servedNote(asOf: string, now: Date): string {
  const age = Math.max(0, (now.getTime() - Date.parse(asOf)) / 1000);
  return `As of ${formatTime(asOf)} (${formatAge(age)} ago): from the serving snapshot the latest scoring run published, without the SQL warehouse.`;
}
