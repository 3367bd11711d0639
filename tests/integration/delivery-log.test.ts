import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryLog, type DeliveredWindow } from '../../src/chat/delivery-log.js';
import { type Db, openDb } from '../../src/platform/local/db.js';
import { migrationsOf } from '../../src/platform/local/migrations.js';

/**
 * The feed's delivery log on its own DuckDB store (the bot's tables, sql/bot/migrations): the
 * reservation before a post, its confirmation after, the release of one that never went out, and
 * the lookups the feed makes after a restart. The feed's own tests cover it through Slack; these
 * pin each step's exact effect.
 */

let db: Db | undefined;
afterEach(async () => {
  await db?.close();
  db = undefined;
});

async function open() {
  db = await openDb(':memory:');
  const log = createDeliveryLog(db);
  return { log, applied: await log.init(), db };
}

const AT = new Date('2025-01-07T12:00:00.000Z');
const LATER = new Date('2025-01-07T12:05:00.000Z');

function window(asset: string, end: string, overrides: Partial<DeliveredWindow> = {}): DeliveredWindow {
  return {
    asset,
    window_end: end,
    symbol: asset.slice(0, 3),
    price_avg: 100.5,
    ret_window: 0.0123,
    anomaly_score: -0.2,
    is_anomaly: true,
    model_version: 3,
    simulated: false,
    reasons: null,
    data_issue: null,
    ...overrides,
  };
}

const BTC = window('bitcoin', '2025-01-07T11:55:00.000Z', { anomaly_score: -0.31 });
const ETH = window('ethereum', '2025-01-07T11:50:00.000Z', {
  symbol: null,
  price_avg: null,
  ret_window: null,
  simulated: true,
});

describe('the delivery log', () => {
  it('init brings an empty store to the latest version, and a second init applies nothing', async () => {
    const { log, applied } = await open();
    expect(applied).toEqual(migrationsOf('bot').map((s) => s.version));
    expect(await log.init()).toEqual([]);
  });

  it('a reservation is pending with its windows, every field kept as given', async () => {
    const { log } = await open();
    await log.reserve({ delivery_id: 'd1', channel: 'C1', kind: 'episode' }, [BTC, ETH], AT);
    expect(await log.pending('C1')).toEqual([
      { delivery_id: 'd1', channel: 'C1', kind: 'episode', state: 'pending', message_ts: null },
    ]);
    expect(await log.pending('C2')).toEqual([]);
    expect(await log.message('d1')).toEqual({
      delivery_id: 'd1',
      channel: 'C1',
      kind: 'episode',
      state: 'pending',
      message_ts: null,
    });
    expect(await log.message('nope')).toBeUndefined();
    // Ordered by score, then window end, then asset: the most anomalous first.
    expect(await log.windowsOf('d1')).toEqual([BTC, ETH]);
    expect(await log.lastPostedTs('C1')).toBeUndefined();
  });

  it('posted marks the message with its ts; the newest posted ts of the channel is the largest', async () => {
    const { log } = await open();
    await log.reserve({ delivery_id: 'd1', channel: 'C1', kind: 'episode' }, [BTC], AT);
    await log.reserve({ delivery_id: 'd2', channel: 'C1', kind: 'digest' }, [ETH], AT);
    await log.reserve({ delivery_id: 'd3', channel: 'C2', kind: 'episode' }, [BTC], AT);
    await log.posted('d1', '1736251200.000200', LATER);
    expect(await log.lastPostedTs('C1')).toBe('1736251200.000200');
    await log.posted('d2', '1736251300.000100', LATER);
    expect(await log.message('d2')).toMatchObject({ state: 'posted', message_ts: '1736251300.000100' });
    expect(await log.pending('C1')).toEqual([]);
    expect(await log.lastPostedTs('C1')).toBe('1736251300.000100');
    // Another channel's pending message is its own, and posts elsewhere do not count here.
    expect((await log.pending('C2')).map((m) => m.delivery_id)).toEqual(['d3']);
    expect(await log.lastPostedTs('C2')).toBeUndefined();
  });

  it('release forgets a pending message and its windows, but never a posted one', async () => {
    const { log } = await open();
    await log.reserve({ delivery_id: 'd1', channel: 'C1', kind: 'episode' }, [BTC], AT);
    await log.reserve({ delivery_id: 'd2', channel: 'C1', kind: 'episode' }, [ETH], AT);
    await log.posted('d2', '1.2', LATER);
    await log.release('d1');
    expect(await log.message('d1')).toBeUndefined();
    expect(await log.windowsOf('d1')).toEqual([]);
    expect((await log.delivered('C1', [BTC])).size).toBe(0);
    // Released windows can be reserved again, in a new message.
    await log.reserve({ delivery_id: 'd3', channel: 'C1', kind: 'episode' }, [BTC], LATER);
    expect(await log.windowsOf('d3')).toEqual([BTC]);
    await log.release('d2');
    expect(await log.message('d2')).toMatchObject({ state: 'posted' });
  });

  it('a reservation is one transaction: a repeated delivery id leaves nothing of the second', async () => {
    const { log } = await open();
    await log.reserve({ delivery_id: 'd1', channel: 'C1', kind: 'episode' }, [BTC], AT);
    await expect(
      log.reserve({ delivery_id: 'd1', channel: 'C1', kind: 'digest' }, [ETH], LATER),
    ).rejects.toThrow();
    expect(await log.windowsOf('d1')).toEqual([BTC]);
    expect((await log.delivered('C1', [ETH])).size).toBe(0);
  });

  it('delivered finds the windows among the keys, in their channel only, with their message', async () => {
    const { log } = await open();
    expect((await log.delivered('C1', [])).size).toBe(0);
    await log.reserve({ delivery_id: 'd1', channel: 'C1', kind: 'episode' }, [BTC, ETH], AT);
    await log.reserve({ delivery_id: 'd2', channel: 'C2', kind: 'episode' }, [ETH], AT);
    const found = await log.delivered('C1', [
      { asset: 'bitcoin', window_end: BTC.window_end },
      { asset: 'bitcoin', window_end: '2025-01-07T12:00:00.000Z' },
    ]);
    expect([...found.keys()]).toEqual([`bitcoin|${BTC.window_end}`]);
    expect(found.get(`bitcoin|${BTC.window_end}`)).toEqual({ ...BTC, delivery_id: 'd1' });
    const other = await log.delivered('C2', [ETH, BTC]);
    expect([...other.entries()]).toEqual([[`ethereum|${ETH.window_end}`, { ...ETH, delivery_id: 'd2' }]]);
  });

  it('rescored updates the score, flag and model of delivered windows in that channel only', async () => {
    const { log } = await open();
    await log.reserve({ delivery_id: 'd1', channel: 'C1', kind: 'episode' }, [BTC, ETH], AT);
    await log.reserve({ delivery_id: 'd2', channel: 'C2', kind: 'episode' }, [BTC], AT);
    const again = { ...BTC, anomaly_score: 0.05, is_anomaly: false, model_version: 4, price_avg: 1 };
    await log.rescored('C1', [again]);
    // The price stays as it was delivered; what changed is the verdict (now ordered after ETH).
    expect(await log.windowsOf('d1')).toEqual([
      ETH,
      { ...BTC, anomaly_score: 0.05, is_anomaly: false, model_version: 4 },
    ]);
    expect(await log.windowsOf('d2')).toEqual([BTC]);
  });

  it('data incidents: reserved, posted, released only while pending, per channel', async () => {
    const { log } = await open();
    expect((await log.incidents('C1')).size).toBe(0);
    await log.reserveIncident('C1', 'a.jsonl|t1', 'a.jsonl', AT);
    await log.reserveIncident('C1', 'b.jsonl|t2', 'b.jsonl', AT);
    await log.reserveIncident('C2', 'a.jsonl|t1', 'a.jsonl', AT);
    await log.incidentPosted('C1', 'a.jsonl|t1', '9.9', LATER);
    expect([...(await log.incidents('C1')).entries()].sort()).toEqual([
      ['a.jsonl|t1', 'posted'],
      ['b.jsonl|t2', 'pending'],
    ]);
    expect([...(await log.incidents('C2')).entries()]).toEqual([['a.jsonl|t1', 'pending']]);
    await log.releaseIncident('C1', 'a.jsonl|t1');
    await log.releaseIncident('C1', 'b.jsonl|t2');
    expect([...(await log.incidents('C1')).entries()]).toEqual([['a.jsonl|t1', 'posted']]);
    await expect(log.reserveIncident('C1', 'a.jsonl|t1', 'a.jsonl', LATER)).rejects.toThrow();
  });

  it('the cursor is per channel and is replaced, not added to', async () => {
    const { log } = await open();
    expect(await log.cursor('C1')).toBeNull();
    await log.setCursor('C1', '2025-01-07T12:00:00.000Z');
    await log.setCursor('C1', '2025-01-07T12:10:00.000Z');
    await log.setCursor('C2', 'x');
    expect(await log.cursor('C1')).toBe('2025-01-07T12:10:00.000Z');
    expect(await log.cursor('C2')).toBe('x');
  });
});
