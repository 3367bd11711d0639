import { createRequire } from 'node:module';
import type { IAdaptiveCard } from '@microsoft/teams.cards';
import type * as ACTypes from 'adaptivecards';
import { describe, expect, it } from 'vitest';
import type { DeliveredWindow } from '../../src/chat/delivery-log.js';
import { digestReply, episodeReply } from '../../src/chat/feed-plan.js';
import { progressReply, RETRAIN_CONFIRM } from '../../src/chat/retrain.js';
import { chartReply } from '../../src/commands/chart.js';
import { usageReply } from '../../src/commands/registry.js';
import type { Reply } from '../../src/domain/reply.js';
import type { ModelVersion, RetrainRun } from '../../src/platform/port.js';
import { activityBytes, escapeCardText, renderCard, TEAMS_LIMITS } from '../../src/render/cards.js';

/**
 * No npm package ships the Adaptive Card JSON schema as a file (adaptivecards 3.0.6 and
 * @microsoft/teams.cards 2.1.0 ship none): cards are validated with the object model of the
 * official JavaScript renderer (adaptivecards, its `lib` is extensionless ESM that Node cannot
 * load, so its UMD bundle is required). A card is valid when parsing it at version 1.5 reports no
 * event (unknown element or action types, elements newer than the target version, bad values),
 * its property validation reports nothing, and writing it back gives the same JSON: every
 * property and value the renderer knows, nothing it would drop.
 */
const AC: typeof ACTypes = createRequire(import.meta.url)('adaptivecards/dist/adaptivecards.js');

function assertValidCard(card: IAdaptiveCard): void {
  expect(card.type).toBe('AdaptiveCard');
  expect(card.version).toBe('1.5');
  expect(card.$schema).toBe('http://adaptivecards.io/schemas/adaptive-card.json');
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(AC.Versions.v1_5);
  parsed.parse(card, context);
  const events = Array.from({ length: context.eventCount }, (_, i) => context.getEventAt(i)?.message);
  expect(events).toEqual([]);
  expect(parsed.validateProperties().validationEvents.map((e) => e.message)).toEqual([]);
  // msteams (mention entities) is a Teams extension the generic renderer does not keep.
  const { msteams: _teamsOnly, ...generic } = card;
  expect(parsed.toJSON(new AC.SerializationContext(AC.Versions.v1_5))).toEqual(generic);
}

function cardOf(reply: Reply, options?: Parameters<typeof renderCard>[1]): IAdaptiveCard {
  const { text, card } = renderCard(reply, options);
  expect(text.length).toBeGreaterThan(0);
  expect(text.length).toBeLessThanOrEqual(300);
  assertValidCard(card);
  expect(activityBytes(text, card)).toBeLessThanOrEqual(
    options?.maxBytes ?? TEAMS_LIMITS.recommendedMessageBytes,
  );
  return card;
}

/** Every element and action in a card, depth first. */
function walk(value: unknown, out: Array<Record<string, unknown>> = []): Array<Record<string, unknown>> {
  if (Array.isArray(value)) for (const v of value) walk(v, out);
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.type === 'string') out.push(o);
    for (const v of Object.values(o)) walk(v, out);
  }
  return out;
}

const texts = (card: IAdaptiveCard): string[] =>
  walk(card).flatMap((e) =>
    e.type === 'TextBlock'
      ? [e.text as string]
      : e.type === 'FactSet'
        ? (e.facts as Array<{ title: string; value: string }>).flatMap((f) => [f.title, f.value])
        : [],
  );

const T0 = Date.parse('2025-02-01T10:00:00.000Z');

function w(asset: string, minutes: number, more: Partial<DeliveredWindow> = {}): DeliveredWindow {
  return {
    asset,
    window_end: new Date(T0 + minutes * 60_000).toISOString(),
    symbol: asset.slice(0, 3),
    price_avg: 65_000,
    ret_window: 0.0123,
    anomaly_score: -0.1,
    is_anomaly: true,
    model_version: 4,
    simulated: true,
    reasons: null,
    data_issue: null,
    ...more,
  };
}

function version(n: number): ModelVersion {
  return {
    version: n,
    created_at: new Date(T0 - n * 3_600_000).toISOString(),
    feature_set: 'default',
    params: { trees: 100, max_samples: 256, contamination: 'auto', seed: 7 },
    training: {
      since: '2025-01-25T00:00:00.000Z',
      until: '2025-02-01T00:00:00.000Z',
      rows: 2000,
      train_rows: 1600,
      holdout_rows: 400,
      assets: ['bitcoin', 'ethereum'],
    },
    metrics: {
      train_mean: 0.1,
      train_std: 0.05,
      holdout_mean: 0.09,
      holdout_std: 0.06,
      train_flagged_share: 0.01,
      holdout_flagged_share: 0.012,
      offset: -0.5,
    },
    aliases: n === 5 ? ['champion'] : [],
  };
}

function run(state: RetrainRun['state'], more: Partial<RetrainRun> = {}): RetrainRun {
  return {
    id: 'run-1',
    state,
    requested_by: 'U123ABC',
    created_at: new Date(T0).toISOString(),
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
    ...more,
  };
}

/** The retrain flow's confirmation reply (src/chat/retrain.ts builds it, unexported). */
const confirmReply: Reply = {
  title: 'Retrain the anomaly model?',
  summary: 'This trains a new model version on the latest Gold windows.',
  actions: [
    {
      id: RETRAIN_CONFIRM,
      label: 'Retrain now',
      value: 'token-123',
      style: 'primary',
      confirm: {
        title: 'Retrain the model?',
        text: 'A new model version is trained now.',
        confirm: 'Retrain',
        deny: 'Cancel',
      },
    },
  ],
  data: {},
};

const chart = {
  asset: 'bitcoin',
  symbol: 'btc',
  points: Array.from({ length: 288 }, (_, i) => ({
    window_end: new Date(T0 + i * 300_000).toISOString(),
    price_avg: 65_000 + i,
    is_anomaly: i % 50 === 0,
    anomaly_score: -0.1,
  })),
};

describe('renderCard: the replies the commands produce', () => {
  const replies: Array<[string, Reply]> = [
    ['an episode of one window', episodeReply([w('bitcoin', 0)])],
    [
      'an episode of several windows',
      episodeReply([w('bitcoin', 0), w('bitcoin', 5), w('bitcoin', 10, { is_anomaly: false })]),
    ],
    ['a digest', digestReply([w('bitcoin', 0), w('ethereum', 5), w('solana', 10)])],
    ['help', usageReply()],
    ['a usage problem', usageReply('`frobnicate` is not a command I know.')],
    ['a queued retrain', progressReply(run('queued'))],
    ['a failed retrain', progressReply(run('failed', { error: 'No Gold windows to train on.' }))],
    [
      'a finished retrain',
      progressReply(
        run('succeeded', {
          finished_at: new Date(T0 + 60_000).toISOString(),
          result: {
            version: version(6),
            promoted: true,
            champion: version(6),
            previous_champion: version(5),
          },
        }),
      ),
    ],
    ['a chart', chartReply(chart)],
    ['the retrain confirmation', confirmReply],
  ];

  it.each(replies)('renders %s as a valid Adaptive Card 1.5', (_name, reply) => {
    cardOf(reply, { chartUrl: 'https://bot.example.com/charts/abc.png' });
    cardOf(reply);
  });

  it('keeps the layout order: badge, title, summary, fields, table, chart, notes', () => {
    const reply: Reply = {
      ...episodeReply([w('bitcoin', 0), w('bitcoin', 5)]),
      summary: 'the summary',
      chart,
    };
    const card = cardOf(reply, { chartUrl: 'https://bot.example.com/c.png' });
    expect(card.body.map((e) => e.type)).toEqual([
      'TextBlock',
      'TextBlock',
      'TextBlock',
      'FactSet',
      'Table',
      'Image',
      'TextBlock',
      'TextBlock',
    ]);
    const [badge, title, summary] = card.body as Array<{ text: string }>;
    expect(badge?.text).toContain('SIMULATED DATA');
    expect(title?.text).toContain('bitcoin');
    expect(summary?.text).toBe('the summary');
  });

  it('renders a table with a header row and honours right alignment', () => {
    const card = cardOf(digestReply([w('bitcoin', 0), w('ethereum', 5)]));
    const table = card.body.find((e) => e.type === 'Table') as unknown as {
      firstRowAsHeaders?: boolean;
      columns: Array<{ horizontalCellContentAlignment?: string }>;
      rows: Array<{ cells: Array<{ items: Array<{ text: string }> }> }>;
    };
    expect(table.firstRowAsHeaders ?? true).toBe(true);
    expect(table.rows[0]?.cells.map((c) => c.items[0]?.text)).toEqual([
      'asset',
      'window end',
      'score',
      'avg price',
      'range',
      'why',
    ]);
    expect(table.rows).toHaveLength(3);
    expect(table.columns.map((c) => c.horizontalCellContentAlignment ?? 'Left')).toEqual([
      'Left',
      'Left',
      'Right',
      'Right',
      'Right',
      'Left',
    ]);
  });

  it('shows the chart as a stretched image with alt text, or says it is not shown', () => {
    const withUrl = cardOf(chartReply(chart), { chartUrl: 'https://bot.example.com/c.png' });
    const image = withUrl.body.find((e) => e.type === 'Image') as {
      url: string;
      altText: string;
      size: string;
    };
    expect(image).toMatchObject({ url: 'https://bot.example.com/c.png', size: 'Stretch' });
    expect(image.altText).toMatch(
      /^Price chart of bitcoin \(BTC\), 288 five-minute windows from .* 6 anomalies marked in red\./,
    );
    const without = cardOf(chartReply(chart));
    expect(without.body.some((e) => e.type === 'Image')).toBe(false);
    expect(texts(without).some((t) => t.includes('price chart of bitcoin (BTC) is not shown'))).toBe(true);
    const bad = cardOf(chartReply(chart), { chartUrl: 'javascript:alert(1)' });
    expect(bad.body.some((e) => e.type === 'Image')).toBe(false);
  });
});

describe('renderCard: actions', () => {
  it('turns an action into Action.Execute with the id as verb and the value as data', () => {
    const card = cardOf({
      title: 't',
      actions: [{ id: 'ack_alert', label: 'Acknowledge', value: '{"id":7}' }],
      data: {},
    });
    expect(card.actions).toEqual([
      { type: 'Action.Execute', title: 'Acknowledge', verb: 'ack_alert', data: { value: '{"id":7}' } },
    ]);
  });

  it('puts an action with a confirmation inside an Action.ShowCard holding the Action.Execute', () => {
    const card = cardOf(confirmReply);
    expect(card.actions).toEqual([
      {
        type: 'Action.ShowCard',
        title: 'Retrain now',
        card: {
          type: 'AdaptiveCard',
          body: [
            { type: 'TextBlock', text: 'Retrain the model?', wrap: true, weight: 'Bolder' },
            { type: 'TextBlock', text: 'A new model version is trained now.', wrap: true },
          ],
          actions: [
            {
              type: 'Action.Execute',
              title: 'Retrain',
              verb: RETRAIN_CONFIRM,
              data: { value: 'token-123' },
              style: 'positive',
            },
          ],
        },
      },
    ]);
  });

  it('leaves out an action whose id or value is too long to be sent whole', () => {
    const card = cardOf({
      title: 't',
      actions: [
        { id: 'x'.repeat(256), label: 'a', value: '' },
        { id: 'ok', label: 'b', value: 'v'.repeat(2001) },
        { id: 'ok', label: 'c', value: 'v', style: 'danger' },
      ],
      data: {},
    });
    expect(card.actions).toEqual([
      { type: 'Action.Execute', title: 'c', verb: 'ok', data: { value: 'v' }, style: 'destructive' },
    ]);
  });
});

describe('renderCard: escaping', () => {
  const hostile =
    '<at>x</at> [x](http://evil) **bold** _it_ `code` {{DATE(2017-02-14T06:08:39Z, SHORT)}} www.evil.com';

  it('escapes every Markdown, mention and date-function character of user text', () => {
    const escaped = escapeCardText(hostile);
    expect(escaped).toBe(
      '\\<at\\>x\\</at\\> \\[x\\](http:\u2060//evil) \\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\{\\{DATE(2017-02-14T06:08:39Z, SHORT)\\}\\} www\u2060.evil.com',
    );
    expect(escapeCardText('- item\n1. first\n# head\n+ plus')).toBe(
      '\\- item\n1\\. first\n\\# head\n\\+ plus',
    );
    // What is not Markdown stays as it is.
    expect(escapeCardText('-0.100 at 10:00 UTC, $65,000.00 (BTC)')).toBe(
      '-0.100 at 10:00 UTC, $65,000.00 (BTC)',
    );
  });

  it('never lets hostile text in any part of a reply become a link, a mention or formatting', () => {
    const reply: Reply = {
      title: hostile,
      badge: hostile,
      summary: hostile,
      fields: [{ label: hostile, value: hostile }],
      tables: [{ title: hostile, columns: [{ header: hostile }], rows: [[hostile]] }],
      notes: [hostile],
      actions: [
        {
          id: 'a',
          label: hostile,
          value: hostile,
          confirm: { title: hostile, text: hostile, confirm: hostile, deny: hostile },
        },
      ],
      data: {},
    };
    const card = cardOf(reply);
    expect(card.msteams).toBeUndefined();
    const all = texts(card);
    expect(all.length).toBeGreaterThan(8);
    for (const text of all) {
      // Every `<`, `[`, `*`, `_`, backtick and `{` is escaped; no URL scheme is left whole.
      expect(text).not.toMatch(/(^|[^\\])[<[*_`{]/);
      expect(text).not.toContain('://');
    }
  });

  it('renders mentions as @id, or as Teams mention entities when the name is known', () => {
    const reply = progressReply(run('queued'));
    const plain = cardOf(reply);
    expect(texts(plain).some((t) => t.startsWith('Asked for by @U123ABC at'))).toBe(true);
    expect(plain.msteams).toBeUndefined();
    const named = cardOf(reply, { mentionNames: { U123ABC: 'Ada <Ops>' } });
    expect(texts(named).some((t) => t.startsWith('Asked for by <at>Ada \\<Ops\\></at> at'))).toBe(true);
    expect(named.msteams).toEqual({
      entities: [
        { type: 'mention', text: '<at>Ada \\<Ops\\></at>', mentioned: { id: 'U123ABC', name: 'Ada <Ops>' } },
      ],
    });
  });
});

describe('renderCard: size', () => {
  const big: Reply = {
    title: 'Top anomalies',
    summary: 'many rows',
    tables: [
      {
        columns: [{ header: 'asset' }, { header: 'window end' }, { header: 'score', align: 'right' }],
        rows: Array.from({ length: 2000 }, (_, i) => [
          `asset-${i}`,
          new Date(T0 + i * 300_000).toISOString(),
          String(-i / 1000),
        ]),
      },
    ],
    notes: ['a note after the table'],
    data: {},
  };

  it('drops rows from the end of a 2,000-row table until the activity fits, and says how many', () => {
    const card = cardOf(big, { fullCommand: 'crypto-risk top 2000 --json' });
    const table = card.body.find((e) => e.type === 'Table') as unknown as { rows: unknown[] };
    const shown = table.rows.length - 1;
    expect(shown).toBeGreaterThan(10);
    expect(shown).toBeLessThan(2000);
    expect(table.rows[0]).toMatchObject({ cells: [{ items: [{ text: 'asset' }] }, {}, {}] });
    const all = texts(card);
    expect(all).toContain(`_… ${(2000 - shown).toLocaleString('en-US')} more rows_`);
    const notice = all.at(-1) ?? '';
    expect(notice).toContain(
      `${(2000 - shown).toLocaleString('en-US')} more rows: left out to fit Teams' message size limit`,
    );
    expect(notice).toContain('crypto-risk top 2000 --json');
    expect(all).toContain('a note after the table');
    // Close to the budget: about one row (a few hundred bytes) short of it at most.
    const { text } = renderCard(big);
    expect(activityBytes(text, card)).toBeGreaterThan(TEAMS_LIMITS.recommendedMessageBytes - 1_500);
  });

  it('drops rows from the last table first', () => {
    const rows = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) => [`${tag}-${i}`, 'x'.repeat(200)]);
    const columns = [{ header: 'id' }, { header: 'text' }];
    const card = cardOf({
      title: 't',
      tables: [
        { columns, rows: rows(20, 'a') },
        { columns, rows: rows(2000, 'b') },
      ],
      data: {},
    });
    const [first, second] = card.body.filter((e) => e.type === 'Table') as unknown as Array<{
      rows: unknown[];
    }>;
    expect(first?.rows).toHaveLength(21);
    expect(second?.rows.length).toBeGreaterThan(1);
    expect(second?.rows.length).toBeLessThan(2001);
  });

  it('shows an empty cell as a dash and cuts long text at a grapheme', () => {
    const title = `${'👩‍👩‍👧‍👦'.repeat(100)}`;
    const card = cardOf({
      title,
      tables: [{ columns: [{ header: 'a' }, { header: 'b' }], rows: [['', 'x']] }],
      data: {},
    });
    const heading = card.body[0] as { text: string };
    expect(heading.text.endsWith('…')).toBe(true);
    expect(heading.text.length).toBeLessThanOrEqual(200);
    expect(heading.text.slice(0, -1)).toBe('👩‍👩‍👧‍👦'.repeat((heading.text.length - 1) / 11));
    expect(texts(card)).toContain('—');
  });

  it('honours a smaller budget', () => {
    const small = cardOf(big, { maxBytes: 20_000 });
    const large = cardOf(big, { maxBytes: 90_000 });
    const rows = (c: IAdaptiveCard) =>
      (c.body.find((e) => e.type === 'Table') as unknown as { rows: unknown[] }).rows.length;
    expect(rows(small)).toBeLessThan(rows(large));
  });

  it('leaves out whole parts from the end when even no rows would fit', () => {
    const notes = Array.from({ length: 200 }, (_, i) => `note ${i} ${'n'.repeat(900)}`);
    const card = cardOf({ ...big, notes });
    const notice = texts(card).at(-1) ?? '';
    expect(notice).toMatch(/notes: left out to fit/);
    expect(card.body[0]).toMatchObject({ text: 'Top anomalies' });
  });
});
