import { formatDurationSpec } from '../domain/duration.js';
import { formatCount, formatTime } from '../domain/format.js';
import type { ChartInput } from '../domain/reply.js';
import type { PriceSeries } from '../platform/port.js';

/**
 * The chart of an asset's window prices with its anomalies marked (the renderer's input), for a
 * series read over the last `sinceMs`: the title names the asset, the subtitle the period, the
 * anomalies, simulated data and the instant of a published series.
 */
export function priceChartInput(series: PriceSeries, sinceMs: number): ChartInput {
  const anomalies = series.points.filter((p) => p.is_anomaly).length;
  const parts = [
    `last ${formatDurationSpec(sinceMs)}`,
    `${formatCount(anomalies)} anomal${anomalies === 1 ? 'y' : 'ies'}`,
    ...(series.simulated ? ['SIMULATED DATA'] : []),
    ...(series.as_of ? [`as of ${formatTime(series.as_of)}`] : []),
  ];
  return {
    asset: series.asset,
    symbol: series.symbol,
    points: series.points,
    title: `${series.asset}${series.symbol ? ` (${series.symbol.toUpperCase()})` : ''}: 5-minute average price`,
    subtitle: parts.join(' · '),
  };
}
