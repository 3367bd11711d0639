import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import type { Platform } from '../platform/port.js';
import { type ChartInput, renderChartPng } from '../render/chart.js';
import { formatCount, formatTime } from '../render/format.js';
import type { Reply } from '../render/reply.js';
import { formatDurationSpec } from './duration.js';

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
  const series = await deps.platform.priceSeries(args.asset, since, deps.now);
  const anomalies = series.points.filter((p) => p.is_anomaly).length;
  const parts = [
    `last ${formatDurationSpec(args.sinceMs)}`,
    `${formatCount(anomalies)} anomal${anomalies === 1 ? 'y' : 'ies'}`,
    ...(series.simulated ? ['SIMULATED DATA'] : []),
    ...(series.as_of ? [`as of ${formatTime(series.as_of)}`] : []),
  ];
  return {
    asset: args.asset,
    symbol: series.symbol,
    points: series.points,
    title: `${args.asset}${series.symbol ? ` (${series.symbol.toUpperCase()})` : ''}: 5-minute average price`,
    subtitle: parts.join(' · '),
  };
}

/** `crypto-risk chart ASSET --out FILE.png`: the chart the Slack bot posts, as a file. */
export async function chartCommand(
  args: ChartArgs & { out: string },
  deps: { platform: Platform; now: Date },
): Promise<Reply> {
  const input = await priceChart(args, deps);
  if (input.points.length === 0) {
    const known = await deps.platform.readOnlySql(
      'SELECT DISTINCT asset FROM metrics_gold ORDER BY asset',
      1000,
    );
    const assets = known.rows.map((r) => String(r.asset));
    if (!assets.includes(args.asset)) {
      throw new UserError(
        `There is no data for "${args.asset}". ` +
          (assets.length > 0
            ? `Assets with data: ${assets.join(', ')}.`
            : 'No asset has data yet: run `crypto-risk ingest` and `pipeline`.'),
        { exitCode: ExitCode.Usage },
      );
    }
  }
  const png = await renderChartPng(input);
  await mkdir(dirname(args.out), { recursive: true });
  await writeFile(args.out, png);
  const anomalies = input.points.filter((p) => p.is_anomaly).length;
  return {
    title: `Chart written to ${args.out}`,
    summary: `${input.title}, ${input.subtitle}: ${formatCount(input.points.length)} windows, ${formatCount(anomalies)} marked.`,
    data: { file: args.out, bytes: png.length, windows: input.points.length, anomalies },
  };
}
