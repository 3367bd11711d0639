import { describe, expect, it } from 'vitest';
import type { DeliveredWindow } from '../../src/chat/delivery-log.js';
import { digestReply, episodeReply, plan } from '../../src/chat/feed-plan.js';
import { renderBlocks } from '../../src/render/blocks.js';

const T0 = Date.parse('2025-02-01T10:00:00.000Z');
const MIN = 60_000;

/** An anomalous window of `asset` ending `minutes` after 10:00 UTC. */
function w(asset: string, minutes: number, more: Partial<DeliveredWindow> = {}): DeliveredWindow {
  return {
    asset,
    window_end: new Date(T0 + minutes * MIN).toISOString(),
    symbol: asset.slice(0, 3),
    price_avg: 65_000,
    ret_window: 0.0123,
    anomaly_score: -0.1,
    is_anomaly: true,
    model_version: 4,
    simulated: false,
    reasons: null,
    data_issue: null,
    ...more,
  };
}

const ends = (ws: DeliveredWindow[]) => ws.map((x) => `${x.asset}@${x.window_end.slice(11, 16)}`);

describe('plan: episodes', () => {
  it('plans nothing for no windows', () => {
    expect(plan([])).toEqual([]);
  });

  it('makes one episode of one window', () => {
    const only = w('bitcoin', 0);
    expect(plan([only])).toEqual([{ kind: 'episode', windows: [only] }]);
  });

  it('keeps windows exactly 15 minutes apart in one episode and splits them a millisecond later', () => {
    const [a, b] = [w('bitcoin', 0), w('bitcoin', 15)];
    expect(plan([a, b]).map((p) => ends(p.windows))).toEqual([['bitcoin@10:00', 'bitcoin@10:15']]);
    const late = { ...b, window_end: new Date(T0 + 15 * MIN + 1).toISOString() };
    const split = plan([a, late]);
    expect(split.map((p) => p.kind)).toEqual(['episode', 'episode']);
    expect(split.map((p) => p.windows)).toEqual([[a], [late]]);
  });

  it('orders each asset’s windows by their end and never mixes assets in an episode', () => {
    const given = [w('bitcoin', 10), w('ethereum', 5), w('bitcoin', 0), w('ethereum', 0), w('bitcoin', 5)];
    const planned = plan(given);
    expect(planned.map((p) => ends(p.windows))).toEqual([
      ['bitcoin@10:00', 'bitcoin@10:05', 'bitcoin@10:10'],
      ['ethereum@10:00', 'ethereum@10:05'],
    ]);
    expect(planned.every((p) => p.kind === 'episode')).toBe(true);
  });

  it('splits an asset into episodes at each gap, oldest first', () => {
    const planned = plan([w('solana', 100), w('solana', 0), w('solana', 40), w('solana', 5)]);
    expect(planned.map((p) => ends(p.windows))).toEqual([
      ['solana@10:00', 'solana@10:05'],
      ['solana@10:40'],
      ['solana@11:40'],
    ]);
  });
});

describe('plan: the per-cycle message cap', () => {
  it('posts up to 3 episodes as episodes', () => {
    const planned = plan([w('a', 0), w('b', 0), w('c', 0)]);
    expect(planned.map((p) => p.kind)).toEqual(['episode', 'episode', 'episode']);
  });

  it('turns a 4th episode into digests, lowest score first', () => {
    const given = [
      w('a', 0, { anomaly_score: -0.2 }),
      w('b', 0, { anomaly_score: -0.4 }),
      w('c', 0, { anomaly_score: -0.1 }),
      w('a', 60, { anomaly_score: -0.3 }),
    ];
    const planned = plan(given);
    expect(planned).toHaveLength(1);
    expect(planned[0]?.kind).toBe('digest');
    expect(planned[0]?.windows.map((x) => x.anomaly_score)).toEqual([-0.4, -0.3, -0.2, -0.1]);
  });

  it('puts at most 40 windows in a digest: 80 make two, 81 make three', () => {
    const burst = (n: number) =>
      Array.from({ length: n }, (_, i) => w(`asset-${i}`, 0, { anomaly_score: -1 + i / 1000 }));
    expect(plan(burst(80)).map((p) => [p.kind, p.windows.length])).toEqual([
      ['digest', 40],
      ['digest', 40],
    ]);
    const three = plan(burst(81));
    expect(three.map((p) => p.windows.length)).toEqual([40, 40, 1]);
    // Lowest score first across the digests, every window once.
    const scores = three.flatMap((p) => p.windows.map((x) => x.anomaly_score));
    expect(scores).toEqual([...scores].sort((x, y) => x - y));
    expect(new Set(three.flatMap((p) => p.windows.map((x) => x.asset))).size).toBe(81);
  });

  it('does not reorder the caller’s list', () => {
    const given = [
      w('b', 0, { anomaly_score: -0.1 }),
      w('a', 0, { anomaly_score: -0.2 }),
      w('c', 0),
      w('d', 0),
    ];
    const copy = [...given];
    expect(plan(given)[0]?.kind).toBe('digest');
    expect(given).toEqual(copy);
  });
});

describe('episodeReply', () => {
  it('describes one window: its asset and symbol, time, score, price and model', () => {
    const reasons =
      '[{"feature":"return","value":-0.094,"times":14.2},{"feature":"volume","value":5e8,"times":3.04}]';
    const reply = episodeReply([w('bitcoin', 0, { anomaly_score: -0.23456, price_avg: 65_432.1, reasons })]);
    expect(reply.title).toBe('🚨 bitcoin (BIT): 1 anomalous window');
    expect(reply.badge).toBeUndefined();
    expect(reply.fields).toEqual([
      { label: 'Window end (UTC)', value: '2025-02-01 10:00 UTC' },
      { label: 'Lowest score', value: '-0.235 at 2025-02-01 10:00 UTC' },
      {
        label: 'Why',
        value: "5-minute return −9.4 % (14× its usual move), volume 3× the day's median",
      },
      { label: 'Price', value: '$65,432 average, range 1.23 %' },
      { label: 'Model', value: 'v4' },
    ]);
    expect(reply.tables).toEqual([]);
    expect(reply.notes).toEqual([
      "Scores below 0 are anomalous to the model (the lower, the more unusual for this asset); a return or range at least 12× the asset's usual alerts too.",
      '`/crypto chart bitcoin 7d` for a longer view.',
    ]);
  });

  it('spans several windows, names the lowest score, and tables each window', () => {
    const windows = [
      w('ethereum', 0, { anomaly_score: -0.1, price_avg: 3_000.5, ret_window: 0.01 }),
      w('ethereum', 5, {
        anomaly_score: -0.3,
        price_avg: 2.5,
        ret_window: 0.02,
        model_version: 5,
        reasons: '[]',
      }),
      w('ethereum', 10, { anomaly_score: -0.2, is_anomaly: false, ret_window: null }),
    ];
    const reply = episodeReply(windows);
    expect(reply.title).toBe('🚨 ethereum (ETH): 2 anomalous windows');
    expect(reply.fields).toEqual([
      { label: 'Window end (UTC)', value: '2025-02-01 10:00 UTC – 2025-02-01 10:10 UTC' },
      { label: 'Lowest score', value: '-0.300 at 2025-02-01 10:05 UTC' },
      // recorded, but nothing stands out alone
      { label: 'Why', value: 'no single measure stands out: an unusual combination of small moves' },
      { label: 'Price', value: '$2.50 average, range 2.00 %' },
      { label: 'Model', value: 'v5' },
    ]);
    expect(reply.tables).toEqual([
      {
        columns: [
          { header: 'window end' },
          { header: 'score', align: 'right' },
          { header: 'range', align: 'right' },
        ],
        rows: [
          ['2025-02-01 10:00 UTC', '-0.100', '1.00 %'],
          ['2025-02-01 10:05 UTC', '-0.300', '2.00 %'],
          ['2025-02-01 10:10 UTC', '-0.200 (cleared by model v4)', '—'],
        ],
      },
    ]);
    expect(reply.data).toEqual({ windows });
  });

  it('names the first of two windows with the same lowest score', () => {
    const reply = episodeReply([
      w('bitcoin', 0, { anomaly_score: -0.1 }),
      w('bitcoin', 5, { anomaly_score: -0.3, price_avg: 1 }),
      w('bitcoin', 10, { anomaly_score: -0.3, price_avg: 2 }),
    ]);
    expect(reply.fields?.[1]?.value).toBe('-0.300 at 2025-02-01 10:05 UTC');
    expect(reply.fields?.[2]?.value).toBe('not recorded for this window'); // scored before reasons were kept
    expect(reply.fields?.[3]?.value).toBe('$1.00 average, range 1.23 %');
  });

  it('says cleared when a re-score cleared every window, and labels simulated data', () => {
    const reply = episodeReply([
      w('dogecoin', 0, { is_anomaly: false, symbol: null, simulated: true, model_version: 7 }),
    ]);
    expect(reply.title).toBe('✅ dogecoin: anomaly cleared');
    expect(reply.badge).toBe('SIMULATED DATA: these prices come from the market simulator');
    expect(reply.fields?.[1]?.value).toBe('-0.100 (cleared by model v7) at 2025-02-01 10:00 UTC');
  });

  it('is escaped where Slack would parse it: an asset name cannot ping the channel', () => {
    const hostile = w('<!channel> & <@U0OPS01>', 0, { symbol: '<b>' });
    const { text, blocks } = renderBlocks(episodeReply([hostile]));
    // Slack parses mrkdwn and the notification text; plain_text (the header) it shows as it is.
    const mrkdwn: string[] = [];
    JSON.stringify(blocks, (_key, value) => {
      if (value?.type === 'mrkdwn') mrkdwn.push(value.text);
      return value;
    });
    expect([...mrkdwn, text].join('\n')).not.toMatch(/<!channel>|<@U0OPS01>|<B>/);
    expect(text).toMatch(/&lt;!channel&gt; &amp; &lt;@U0OPS01&gt; \(&lt;B&gt;\)/);
    expect(mrkdwn.join('\n')).toMatch(/chart &lt;!channel&gt;/);
  });
});

describe('digestReply', () => {
  it('counts the anomalous windows and assets, and tables every window in order', () => {
    const windows = [
      w('bitcoin', 0, {
        anomaly_score: -0.5,
        price_avg: 0.001234,
        reasons: '[{"feature":"range","value":0.1,"times":80}]',
      }),
      w('cardano', 5, { anomaly_score: -0.4, symbol: null, is_anomaly: false, price_avg: null }),
      w('bitcoin', 30, {
        anomaly_score: -0.3,
        simulated: true,
        reasons: '[{"feature":"gap","value":15,"times":null}]',
        data_issue: 'gap',
      }),
    ];
    const reply = digestReply(windows);
    expect(reply.title).toBe('🚨 2 anomalous windows across 2 assets');
    expect(reply.badge).toBe('SIMULATED DATA: these prices come from the market simulator');
    expect(reply.summary).toBe('A burst of anomalies, in one message instead of many (lowest score first).');
    expect(reply.tables?.[0]?.columns.map((c) => [c.header, c.align])).toEqual([
      ['asset', undefined],
      ['window end', undefined],
      ['score', 'right'],
      ['avg price', 'right'],
      ['range', 'right'],
      ['why', undefined],
    ]);
    expect(reply.tables?.[0]?.rows).toEqual([
      ['bitcoin (BIT)', '2025-02-01 10:00 UTC', '-0.500', '$0.001234', '1.23 %', 'high→low −10.0 % 80×'],
      ['cardano', '2025-02-01 10:05 UTC', '-0.400 (cleared by model v4)', '—', '1.23 %', '—'],
      ['bitcoin (BIT)', '2025-02-01 10:30 UTC', '-0.300', '$65,000', '1.23 %', 'gap 15 minutes'],
    ]);
    expect(reply.notes).toEqual([
      "Scores below 0 are anomalous to the model (the lower, the more unusual for this asset); a return or range at least 12× the asset's usual alerts too.",
      '`/crypto top 50 24h` lists them all.',
    ]);
    expect(reply.data).toEqual({ windows });
  });

  it('says asset in the singular for one asset, and has no badge for market data', () => {
    const reply = digestReply([w('solana', 0), w('solana', 60)]);
    expect(reply.title).toBe('🚨 2 anomalous windows across 1 asset');
    expect(reply.badge).toBeUndefined();
  });
});
