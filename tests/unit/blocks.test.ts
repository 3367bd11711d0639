import type { Button, ContextBlock, KnownBlock, SectionBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import type { Action, Reply, Table } from '../../src/domain/reply.js';
import { renderBlocks } from '../../src/render/blocks.js';

/** Every limit renderBlocks promises (docs.slack.dev Block Kit reference), for any output. */
function assertWithinSlackLimits(blocks: KnownBlock[], maxBlocks: number): void {
  expect(blocks.length).toBeGreaterThan(0);
  expect(blocks.length).toBeLessThanOrEqual(maxBlocks);
  const actionIds = new Set<string>();
  const textOf = (t: { type: string; text: string } | undefined, max: number, type?: string) => {
    expect(t).toBeDefined();
    if (type) expect(t?.type).toBe(type);
    expect(t?.text.length).toBeGreaterThan(0);
    expect(t?.text.length).toBeLessThanOrEqual(max);
  };
  for (const block of blocks) {
    switch (block.type) {
      case 'header':
        textOf(block.text, 150, 'plain_text');
        break;
      case 'section':
        expect(block.text ?? block.fields).toBeDefined();
        if (block.text) textOf(block.text, 3000);
        if (block.fields) {
          expect(block.fields.length).toBeGreaterThan(0);
          expect(block.fields.length).toBeLessThanOrEqual(10);
          for (const f of block.fields) textOf(f, 2000);
        }
        break;
      case 'context':
        expect(block.elements.length).toBeGreaterThan(0);
        expect(block.elements.length).toBeLessThanOrEqual(10);
        for (const e of block.elements) {
          expect(e.type === 'mrkdwn' || e.type === 'plain_text').toBe(true);
          if (e.type === 'mrkdwn' || e.type === 'plain_text') textOf(e, 3000);
        }
        break;
      case 'actions':
        expect(block.elements.length).toBeGreaterThan(0);
        expect(block.elements.length).toBeLessThanOrEqual(25);
        for (const e of block.elements) {
          expect(e.type).toBe('button');
          const b = e as Button;
          textOf(b.text, 75, 'plain_text');
          expect((b.value ?? '').length).toBeLessThanOrEqual(2000);
          expect(b.action_id?.length ?? 0).toBeGreaterThan(0);
          expect(b.action_id?.length ?? 0).toBeLessThanOrEqual(255);
          expect(actionIds.has(b.action_id ?? '')).toBe(false);
          actionIds.add(b.action_id ?? '');
          if (b.confirm) {
            textOf(b.confirm.title, 100, 'plain_text');
            textOf(b.confirm.text, 300);
            textOf(b.confirm.confirm, 30, 'plain_text');
            textOf(b.confirm.deny, 30, 'plain_text');
          }
        }
        break;
      case 'image':
        expect(block.alt_text.length).toBeGreaterThan(0);
        expect(block.alt_text.length).toBeLessThanOrEqual(2000);
        if (block.title) textOf(block.title, 2000, 'plain_text');
        expect('slack_file' in block && block.slack_file).toBeTruthy();
        break;
      case 'divider':
        break;
      default:
        throw new Error(`unexpected block type ${block.type}`);
    }
  }
}

/** Every mrkdwn text in the blocks. */
function mrkdwnTexts(blocks: KnownBlock[]): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o.text);
      else Object.values(o).forEach(walk);
    }
  };
  walk(blocks);
  return out;
}

/** No raw control character and no entity cut in half; every code block closed. */
function expectEscaped(blocks: KnownBlock[]): void {
  for (const text of mrkdwnTexts(blocks)) {
    expect(text).not.toMatch(/[<>]/);
    expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
    expect((text.match(/```/g) ?? []).length % 2).toBe(0);
  }
}

const sectionText = (b: KnownBlock | undefined) => ((b as SectionBlock).text?.text ?? '') as string;
const contextText = (b: KnownBlock | undefined) =>
  (b as ContextBlock).elements.map((e) => ('text' in e ? e.text : '')).join(' ');

const leaderboard: Table = {
  title: 'Leaderboard',
  columns: [{ header: 'asset' }, { header: 'anomalies', align: 'right' }, { header: 'last event' }],
  rows: [
    ['bitcoin (BTC)', '12', '2025-01-07 22:05 UTC'],
    ['ethereum (ETH)', '3', '2025-01-07 21:40 UTC'],
  ],
};

const retrain: Action = {
  id: 'retrain',
  label: 'Retrain now',
  value: 'features=default',
  style: 'danger',
  confirm: {
    title: 'Retrain the model?',
    text: 'Training takes a minute.',
    confirm: 'Retrain',
    deny: 'Cancel',
  },
};

const normalReply: Reply = {
  title: 'Top anomalies, last 24h',
  badge: 'SIMULATED DATA: bitcoin comes from the market simulator',
  summary: '15 anomalous windows across 2 asset(s), out of 576 scored.',
  fields: [
    { label: 'Champion', value: 'v3' },
    { label: 'Scored', value: '576' },
  ],
  tables: [leaderboard],
  chart: {
    asset: 'bitcoin',
    symbol: 'btc',
    points: [
      { window_end: '2025-01-07T00:05:00Z', price_avg: 96_000, is_anomaly: false },
      { window_end: '2025-01-07T00:10:00Z', price_avg: 99_000, is_anomaly: true },
      { window_end: '2025-01-07T00:15:00Z', price_avg: 96_100, is_anomaly: true },
    ],
  },
  actions: [retrain, { id: 'show_top', label: 'Top 50', value: '50', style: 'primary' }],
  notes: ['Scores below -0.1 are anomalous.'],
  data: null,
};

function bigTable(rows: number, title = 'Most anomalous windows'): Table {
  return {
    title,
    columns: [
      { header: 'window end' },
      { header: 'asset' },
      { header: 'score', align: 'right' },
      { header: 'avg price', align: 'right' },
    ],
    rows: Array.from({ length: rows }, (_, i) => [
      `2025-01-07 ${String(i % 24).padStart(2, '0')}:05 UTC`,
      'bitcoin (BTC)',
      `-${(i / 1000).toFixed(3)}`,
      '$96,500.00',
    ]),
  };
}

describe('renderBlocks', () => {
  it('renders mentions the bot writes as Slack mentions, and keeps user text around them escaped', () => {
    const { blocks, text } = renderBlocks({
      title: 'Retrain',
      summary: [
        'Asked for by ',
        { user: 'U0OPS01' },
        ' about <@U0VIEW01> & <!channel>; ',
        { user: '<!here>' },
      ],
      data: {},
    });
    expect(sectionText(blocks[1])).toBe(
      'Asked for by <@U0OPS01> about &lt;@U0VIEW01&gt; &amp; &lt;!channel&gt;; @&lt;!here&gt;',
    );
    expect(text).toBe(
      'Retrain: Asked for by @U0OPS01 about &lt;@U0VIEW01&gt; &amp; &lt;!channel&gt;; @&lt;!here&gt;',
    );
  });

  it('renders a normal reply in order, with the expected block types and no shortening', () => {
    const { text, blocks } = renderBlocks(normalReply, { chartFileId: 'F0123' });
    expect(blocks.map((b) => b.type)).toEqual([
      'header',
      'section',
      'section',
      'section',
      'divider',
      'section',
      'image',
      'divider',
      'actions',
      'context',
    ]);
    assertWithinSlackLimits(blocks, 50);
    expect(text).toBe('Top anomalies, last 24h: SIMULATED DATA: bitcoin comes from the market simulator');
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Top anomalies, last 24h', emoji: true },
    });
    expect(sectionText(blocks[1])).toBe(
      ':warning: *SIMULATED DATA: bitcoin comes from the market simulator*',
    );
    expect(sectionText(blocks[2])).toBe('15 anomalous windows across 2 asset(s), out of 576 scored.');
    expect((blocks[3] as SectionBlock).fields?.map((f) => f.text)).toEqual([
      '*Champion*\nv3',
      '*Scored*\n576',
    ]);
    expect(sectionText(blocks[5])).toBe(
      [
        '*Leaderboard*',
        '```',
        'asset           anomalies  last event',
        '--------------  ---------  --------------------',
        'bitcoin (BTC)          12  2025-01-07 22:05 UTC',
        'ethereum (ETH)          3  2025-01-07 21:40 UTC',
        '```',
      ].join('\n'),
    );
    expect(contextText(blocks[9])).toBe('Scores below -0.1 are anomalous.');
    expect(JSON.stringify(blocks)).not.toContain('Output shortened');
  });

  it('shows the chart as an image block only when it has a Slack file id', () => {
    const without = renderBlocks(normalReply).blocks;
    expect(without.some((b) => b.type === 'image')).toBe(false);
    expect(without.map((b) => b.type)).toEqual([
      'header',
      'section',
      'section',
      'section',
      'divider',
      'section',
      'divider',
      'actions',
      'context',
    ]);

    const image = renderBlocks(normalReply, { chartFileId: 'F0123' }).blocks.find((b) => b.type === 'image');
    expect(image).toMatchObject({
      type: 'image',
      slack_file: { id: 'F0123' },
      title: { type: 'plain_text', text: 'bitcoin (BTC) · 5-min average price (USD)' },
    });
    const alt = (image as { alt_text: string }).alt_text;
    expect(alt).toContain('bitcoin (BTC)');
    expect(alt).toContain('2025-01-07 00:05 UTC to 2025-01-07 00:15 UTC');
    expect(alt).toContain('2 anomalies');
    expect(image).not.toHaveProperty('image_url');
  });

  it('renders actions as buttons with Slack confirmation dialogs', () => {
    const actions = renderBlocks(normalReply).blocks.filter((b) => b.type === 'actions');
    expect(actions).toEqual([
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: 'retrain',
            text: { type: 'plain_text', text: 'Retrain now', emoji: true },
            value: 'features=default',
            style: 'danger',
            confirm: {
              title: { type: 'plain_text', text: 'Retrain the model?', emoji: true },
              text: { type: 'plain_text', text: 'Training takes a minute.', emoji: true },
              confirm: { type: 'plain_text', text: 'Retrain', emoji: true },
              deny: { type: 'plain_text', text: 'Cancel', emoji: true },
              style: 'danger',
            },
          },
          {
            type: 'button',
            action_id: 'show_top',
            text: { type: 'plain_text', text: 'Top 50', emoji: true },
            value: '50',
            style: 'primary',
          },
        ],
      },
    ]);
  });

  it('cuts over-long confirmation texts and keeps action ids unique', () => {
    const long: Action = {
      id: 'retrain',
      label: 'R'.repeat(200),
      value: 'v',
      confirm: {
        title: 'T'.repeat(500),
        text: 'x'.repeat(5000),
        confirm: 'C'.repeat(99),
        deny: 'D'.repeat(99),
      },
    };
    const { blocks } = renderBlocks({ title: 't', actions: [long, long, long], data: null });
    assertWithinSlackLimits(blocks, 50);
    const buttons = (blocks.find((b) => b.type === 'actions') as { elements: Button[] }).elements;
    expect(buttons.map((b) => b.action_id)).toEqual(['retrain', 'retrain-2', 'retrain-3']);
    expect(buttons[0]?.text.text).toMatch(/^R+…$/);
    expect(buttons[0]?.confirm?.text.text.length).toBe(300);
  });

  it('escapes hostile text so it can never mention or link, keeps emoji and limits length', () => {
    const hostile = '<!channel> <@U123|x> <!here> <https://evil.example|click> & <script>alert(1)</script>';
    const reply: Reply = {
      title: `${hostile} 🚀`,
      badge: `${hostile} ⚠️`,
      summary: `${hostile} 👩‍👩‍👧 ${'&<>'.repeat(3400)}`,
      fields: [{ label: hostile, value: `${hostile} 🇺🇦` }],
      tables: [
        {
          title: hostile,
          columns: [{ header: '<b>' }, { header: 'value' }],
          rows: [
            [hostile, '```'],
            ['x', '``` <!channel> ```'],
          ],
        },
      ],
      actions: [{ id: 'a', label: hostile, value: hostile }],
      notes: [hostile, `${'<!channel>'.repeat(1000)}`],
      data: null,
    };
    const { text, blocks } = renderBlocks(reply);
    assertWithinSlackLimits(blocks, 50);
    expectEscaped(blocks);
    expect(text).not.toMatch(/[<>]/);
    expect(text.length).toBeLessThanOrEqual(300);

    const all = mrkdwnTexts(blocks).join('\n');
    expect(all).toContain('&lt;!channel&gt; &lt;@U123|x&gt;');
    expect(all).toContain('&lt;https://evil.example|click&gt; &amp; &lt;script&gt;');
    expect(all).toContain('👩‍👩‍👧');
    expect(all).toContain('🇺🇦');
    expect(sectionText(blocks[1])).toContain('⚠️');
    // The header is plain_text: Slack never parses it, and the emoji is whole.
    expect((blocks[0] as { text: { text: string } }).text.text).toContain('🚀');

    // Backticks in table cells cannot close the code block: one fence pair, cells with a look-alike.
    const table = mrkdwnTexts(blocks).find((t) => t.includes('```')) ?? '';
    expect(table.match(/```/g)).toHaveLength(2);
    expect(table).toContain('ˋˋˋ &lt;!channel&gt; ˋˋˋ');

    // 10 kB of control characters: cut to the limit between whole entities.
    const summary = sectionText(blocks[2]);
    expect(summary.length).toBeLessThanOrEqual(3000);
    expect(summary.endsWith('…')).toBe(true);
    expect(contextText(blocks[blocks.length - 1])).toContain('Output shortened to fit Slack');
  });

  it('cuts a long title between graphemes', () => {
    const family = '👩‍👩‍👧';
    const { blocks } = renderBlocks({ title: family.repeat(100), data: null });
    const header = (blocks[0] as { text: { text: string } }).text.text;
    expect(header.length).toBeLessThanOrEqual(150);
    expect(header.endsWith('…')).toBe(true);
    expect(
      header
        .slice(0, -1)
        .split(family)
        .every((part) => part === ''),
    ).toBe(true);
  });

  it('cuts a 500-row table between rows and says how many rows were left out', () => {
    const { blocks } = renderBlocks(
      { title: 'Top anomalies', tables: [bigTable(500)], data: null },
      { fullCommand: 'crypto-risk top 500 --json' },
    );
    assertWithinSlackLimits(blocks, 50);
    expectEscaped(blocks);
    const text = sectionText(blocks.find((b) => b.type === 'section'));
    expect(text.length).toBeLessThanOrEqual(3000);
    const code = text.split('```')[1]?.trim().split('\n') ?? [];
    const rows = code.slice(2);
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows)
      expect(row).toMatch(/^2025-01-07 \d\d:05 UTC {2}bitcoin \(BTC\) +-\d\.\d{3} {2}\$96,500\.00$/);
    const more = Number(text.match(/… (\d+) more rows_$/)?.[1]);
    expect(rows.length + more).toBe(500);
    const notice = contextText(blocks[blocks.length - 1]);
    expect(notice).toContain(`Output shortened to fit Slack: ${more} table rows left out`);
    expect(notice).toContain('`crypto-risk top 500 --json`');
  });

  it('keeps a table of 5 kB cells within limits and shows at least one row', () => {
    const wide: Table = {
      columns: [{ header: 'a' }, { header: 'b' }, { header: 'c' }],
      rows: Array.from({ length: 20 }, () => ['&'.repeat(5000), 'x'.repeat(5000), '`'.repeat(5000)]),
    };
    const { blocks } = renderBlocks({ title: 't', tables: [wide, wide], data: null });
    assertWithinSlackLimits(blocks, 50);
    expectEscaped(blocks);
    for (const b of blocks.filter((b) => b.type === 'section')) {
      expect(sectionText(b)).toMatch(/```\n.+\n.+\n.+\n[\s\S]*```/);
    }
  });

  it('holds every limit with 40 fields, 30 actions, 100 notes and a 10 kB title', () => {
    const reply: Reply = {
      title: 'T'.repeat(10_000),
      badge: 'B'.repeat(10_000),
      summary: 'S'.repeat(10_000),
      fields: Array.from({ length: 40 }, (_, i) => ({
        label: `L${i} ${'l'.repeat(3000)}`,
        value: 'v'.repeat(5000),
      })),
      tables: [bigTable(500), bigTable(500)],
      chart: normalReply.chart,
      actions: Array.from({ length: 30 }, (_, i) => ({ ...retrain, id: `a${i}`, label: `Button ${i}` })),
      notes: Array.from({ length: 100 }, (_, i) => `note ${i} ${'n'.repeat(5000)}`),
      data: null,
    };
    const { text, blocks } = renderBlocks(reply, { chartFileId: 'F1' });
    assertWithinSlackLimits(blocks, 50);
    expect(text.length).toBeLessThanOrEqual(300);
    const fieldSections = blocks.filter((b) => b.type === 'section' && b.fields);
    expect(fieldSections.map((b) => (b as SectionBlock).fields?.length)).toEqual([10, 10, 10, 10]);
    const actionBlocks = blocks.filter((b) => b.type === 'actions') as { elements: unknown[] }[];
    expect(actionBlocks.map((b) => b.elements.length)).toEqual([25, 5]);
    expect(blocks.filter((b) => b.type === 'context')).toHaveLength(11);
    expect(contextText(blocks[blocks.length - 1])).toMatch(
      /^:scissors: Output shortened to fit Slack: .*long text cut/,
    );
  });

  it('drops the last content first when blocks run out, and maxBlocks 100 lets more through than 50', () => {
    const reply: Reply = {
      title: 'Many tables',
      badge: 'SIMULATED DATA',
      summary: 'summary',
      tables: Array.from({ length: 60 }, (_, i) => bigTable(5, `table ${i}`)),
      actions: [retrain],
      notes: Array.from({ length: 400 }, (_, i) => `note ${i}`),
      data: null,
    };
    const fifty = renderBlocks(reply).blocks;
    const hundred = renderBlocks(reply, { maxBlocks: 100 }).blocks;
    assertWithinSlackLimits(fifty, 50);
    assertWithinSlackLimits(hundred, 100);
    expect(fifty).toHaveLength(50);
    expect(hundred).toHaveLength(100);

    // The head stays; notes, then the button, then the last tables go; the notice comes last.
    for (const blocks of [fifty, hundred]) {
      expect(blocks.slice(0, 3).map((b) => b.type)).toEqual(['header', 'section', 'section']);
      expect(blocks.some((b) => b.type === 'divider')).toBe(false);
    }
    expect(
      fifty.some(
        (b) => b.type === 'actions' || (b.type === 'context' && !contextText(b).includes('shortened')),
      ),
    ).toBe(false);
    const tables = (blocks: KnownBlock[]) =>
      blocks.filter((b) => sectionText(b).startsWith('*table ')).length;
    expect(tables(fifty)).toBe(46);
    expect(tables(hundred)).toBe(60);
    expect(hundred.some((b) => b.type === 'actions')).toBe(true);
    expect(contextText(fifty[49])).toContain(
      'Output shortened to fit Slack: 14 tables, 1 button, 400 notes left out',
    );
    expect(contextText(hundred[99])).toContain('Output shortened to fit Slack: 50 notes left out');
  });
});
