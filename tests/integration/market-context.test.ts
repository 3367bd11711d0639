import { afterEach, describe, expect, it } from 'vitest';
import type { TestLakehouse } from '../support/lakehouse.js';
import { type Harness, startHarness, windowsIn } from '../support/slack-bot-harness.js';
import { startTeamsHarness, TEAM, type TeamsHarness } from '../support/teams-bot-harness.js';

/**
 * Market context through the feed: assets anomalous within the same minutes are one market-wide
 * message, and an asset's own message says whether the market moved with it. The Gold windows after
 * the harness's history are written with the moves wanted, and the anomalous ones scored as the
 * model would (a return far beyond the usual), so the feed reads them as it reads any.
 */

const SYMBOLS: Record<string, string> = {
  bitcoin: 'btc',
  ethereum: 'eth',
  solana: 'sol',
  cardano: 'ada',
  dogecoin: 'doge',
};
const ASSETS = Object.keys(SYMBOLS);
const NOW = '2025-02-01T00:45:00.000Z';
const START = Date.parse('2025-02-01T00:00:00.000Z');
const MIN = 60_000;

let h: Harness | undefined;
let t: TeamsHarness | undefined;
afterEach(async () => {
  await h?.close();
  await t?.close();
  h = undefined;
  t = undefined;
});

/**
 * Windows ending 5…40 minutes after the history, each asset near its last price (±0.1 %); `drops`
 * maps an asset to its fall from minute 20 on, and those windows at 20 and 25 are anomalous.
 */
async function market(lake: TestLakehouse, drops: Record<string, number>): Promise<void> {
  const db = lake.platform.db;
  await db.run('DELETE FROM anomalies');
  for (const [i, asset] of ASSETS.entries()) {
    const [last] = await db.all<{ price: number }>(
      'SELECT price_avg AS price FROM metrics_gold WHERE asset = :asset ORDER BY window_end DESC LIMIT 1',
      { asset },
    );
    const base = last?.price as number;
    for (let m = 5; m <= 40; m += 5) {
      const end = new Date(START + m * MIN).toISOString();
      const begin = new Date(START + (m - 5) * MIN).toISOString();
      const wiggle = 1 + (((i * 7 + m / 5) % 5) - 2) / 2000;
      const price = base * wiggle * (m >= 20 ? 1 + (drops[asset] ?? 0) : 1);
      await db.run(
        `INSERT OR REPLACE INTO metrics_gold VALUES (:asset, :symbol, CAST(:begin AS TIMESTAMP), CAST(:end AS TIMESTAMP),
           :price, 0, :price, :price, 1000, 0, 5, 'simulator', CAST(:end AS TIMESTAMP))`,
        { asset, symbol: SYMBOLS[asset] as string, begin, end, price },
      );
      const drop = drops[asset];
      if (drop !== undefined && (m === 20 || m === 25)) {
        const reasons = JSON.stringify([{ feature: 'return', value: drop, times: 40 }]);
        await db.run(
          `INSERT INTO anomalies VALUES (:asset, :symbol, CAST(:end AS TIMESTAMP), :price, 0, 0, 1000, :drop,
             :score, 1, 1, CAST(:now AS TIMESTAMP), :reasons, NULL)`,
          {
            asset,
            symbol: SYMBOLS[asset] as string,
            end,
            price,
            drop,
            score: -0.2 - m / 1000,
            now: NOW,
            reasons,
          },
        );
      }
    }
  }
  lake.setNow(NOW);
}

const FIVE_FALL = { bitcoin: -0.06, ethereum: -0.07, solana: -0.09, cardano: -0.08, dogecoin: -0.065 };

describe('market context in the feed', () => {
  it('five assets falling together are one market-wide message, not five', async () => {
    h = await startHarness({ hours: 3 });
    await market(h.lake, FIVE_FALL);
    const result = await h.bot.feed.runOnce();
    expect(result.posted).toBe(1);
    const [message] = h.feedMessages();
    expect(message?.text).toMatch(/^🌐 5 of 5 assets fell 6–9 % within 10 minutes/);
    expect(windowsIn(h.feedMessages())).toHaveLength(10);
    const shown = JSON.stringify(message?.blocks);
    for (const asset of ASSETS) expect(shown).toContain(asset);
    expect(shown).toContain('return −9.0 % 40×');
    // The next cycle has nothing new; a restart neither.
    expect((await h.bot.feed.runOnce()).posted).toBe(0);
    expect((await (await h.make()).feed.runOnce()).posted).toBe(0);
  });

  it('one asset falling alone gets its own message, saying the market did not move', async () => {
    h = await startHarness({ hours: 3 });
    await market(h.lake, { bitcoin: -0.08 });
    expect((await h.bot.feed.runOnce()).posted).toBe(1);
    const [message] = h.feedMessages();
    expect(message?.text).toMatch(/^🚨 bitcoin \(BTC\): 2 anomalous windows/);
    const shown = JSON.stringify(message?.blocks);
    expect(shown).toMatch(/\*Market\*\\nthe market did not move \(others [−+]0\.\d % to [−+]0\.\d %\)/);
  });

  it('two of five falling together are two messages, each saying the market did not move with it', async () => {
    h = await startHarness({ hours: 3 });
    await market(h.lake, { bitcoin: -0.08, solana: -0.07 });
    expect((await h.bot.feed.runOnce()).posted).toBe(2);
    for (const m of h.feedMessages()) {
      expect(m.text).toMatch(/^🚨 (bitcoin|solana)/);
      expect(JSON.stringify(m.blocks)).toContain('the market did not move');
    }
  });

  it('in Teams too: one card for the market-wide move', async () => {
    t = await startTeamsHarness({ hours: 3 });
    await t.install();
    await market(t.lake, FIVE_FALL);
    expect((await t.bot.feed.runOnce()).posted).toBe(1);
    const cards = t.teams
      .botMessages(TEAM.id)
      .filter((m) => JSON.stringify(m.activity).includes('5 of 5 assets fell'));
    expect(cards).toHaveLength(1);
    expect(JSON.stringify(cards[0]?.activity)).toContain('within 10 minutes');
  });
});
