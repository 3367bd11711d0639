import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { durationSchema } from '../domain/duration.js';
import { formatCount } from '../domain/format.js';
import type { ChartInput, ChartPoint, Reply } from '../domain/reply.js';
import { coinIdSchema } from '../market/record.js';
import { shortReason } from '../model/reasons.js';
import type { Platform, PricePoint } from '../platform/port.js';
import { renderChartPng } from '../render/chart.js';
import { priceChartInput } from '../render/price-chart.js';
import { describeIssues, type Parsed, parsed, problem } from './slash.js';

export interface ChartArgs {
  asset: string;
  sinceMs: number;
}

/** The chart of an asset's window prices with its anomalies marked, as the renderer's input. */
export async function priceChart(
  args: ChartArgs,
  deps: { platform: Platform; now: Date },
): Promise<ChartInput> {
  const since = new Date(deps.now.getTime() - args.sinceMs);
  const series = await deps.platform.reads.priceSeries(args.asset, since, deps.now);
  return { ...priceChartInput(series, args.sinceMs), points: labelWorst(series.points) };
}

/** The worst (lowest-scored) anomaly's marker labelled with its top reason, when it has one. */
export function labelWorst(points: readonly PricePoint[]): ChartPoint[] {
  let worst: PricePoint | undefined;
  for (const p of points) {
    if (p.is_anomaly && (worst === undefined || (p.anomaly_score ?? 0) < (worst.anomaly_score ?? 0)))
      worst = p;
  }
  const label = worst ? shortReason(worst.reasons) : '';
  return points.map(({ reasons: _, ...p }) =>
    p.window_end === worst?.window_end && label ? { ...p, label } : p,
  );
}

/** `chart <asset> [period]`: the asset first, then the look-back (default 24 h). */
export const chartArgsSchema = z.object({
  asset: coinIdSchema,
  since: durationSchema.default(24 * 3_600_000),
});
export type ChartRequest = z.infer<typeof chartArgsSchema>;

export function chartTokens(tokens: readonly string[]): Parsed<ChartRequest> {
  if (tokens.length === 0 || tokens.length > 2)
    return problem('`chart` needs an asset, e.g. `/crypto chart bitcoin 24h`.');
  const result = chartArgsSchema.safeParse({ asset: tokens[0], since: tokens[1] });
  return result.success ? parsed(result.data) : problem(describeIssues(result.error));
}

/** Why an asset has no chart (no Gold windows at all), or undefined when it has data. */
export async function noDataFor(asset: string, platform: Platform): Promise<string | undefined> {
  const assets = await platform.reads.assets();
  if (assets.includes(asset)) return undefined;
  return (
    `There is no data for "${asset}". ` +
    (assets.length > 0
      ? `Assets with data: ${assets.join(', ')}.`
      : 'No asset has data yet: run `crypto-risk ingest` and `pipeline`.')
  );
}

/** The chart as an answer of its own. */
export function chartReply(chart: ChartInput): Reply {
  return { title: chart.title ?? chart.asset, summary: chart.subtitle, chart, data: {} };
}

/** `crypto-risk chart ASSET --out FILE.png`: the chart the Slack bot posts, as a file. */
export async function writeChartPng(input: ChartInput, out: string): Promise<Reply> {
  const png = await renderChartPng(input);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, png);
  const anomalies = input.points.filter((p) => p.is_anomaly).length;
  return {
    title: `Chart written to ${out}`,
    summary: `${input.title}, ${input.subtitle}: ${formatCount(input.points.length)} windows, ${formatCount(anomalies)} marked.`,
    data: { file: out, bytes: png.length, windows: input.points.length, anomalies },
  };
}
