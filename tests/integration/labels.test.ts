import { afterEach, describe, expect, it } from 'vitest';
import { statusCommand } from '../../src/commands/status.js';
import type { Label } from '../../src/domain/labels.js';
import {
  type DatabricksHarness,
  startDatabricksHarness,
  VOLUME_ROOT,
  WAREHOUSE_ID,
} from '../support/databricks-harness.js';
import {
  CHANNEL,
  type Harness,
  OPS,
  onlyOneAnomaly,
  startHarness,
  VIEWER,
} from '../support/slack-bot-harness.js';
import {
  startTeamsHarness,
  TEAM,
  TENANT,
  type TeamsHarness,
  VIEWER as VIEWER_T,
} from '../support/teams-bot-harness.js';
import { until } from '../support/until.js';

/** A second ops user of the local Slack workspace (U0OPS02 ops-carol). */
const CAROL = 'U0OPS02';

let h: Harness | undefined;
let t: TeamsHarness | undefined;
let d: DatabricksHarness | undefined;
afterEach(async () => {
  await h?.close();
  await t?.close();
  await d?.close();
  h = undefined;
  t = undefined;
  d = undefined;
});

const labelRows = (harness: { lake: Harness['lake'] }) =>
  harness.lake.platform.db.all<{
    asset: string;
    window_end: string;
    user: string;
    label: string;
    model_version: number;
  }>(
    `SELECT asset, strftime(window_end, '%Y-%m-%dT%H:%M:%S.%gZ') AS window_end, "user", label, model_version
     FROM labels ORDER BY "user"`,
  );

/** The "Labels" field of a Slack feed message, as its blocks show it. */
function labelsShown(message: { blocks?: unknown[] } | undefined): string | undefined {
  const text = JSON.stringify(message?.blocks ?? []);
  return /Labels\*?\\n([^"]*)"/.exec(text)?.[1];
}

describe('labels from the Slack channel', () => {
  async function oneFeedMessage() {
    h = await startHarness({ hours: 3 });
    await onlyOneAnomaly(h.lake);
    expect(await h.bot.feed.runOnce()).toMatchObject({ posted: 1 });
    const [message] = h.feedMessages();
    expect(message).toBeDefined();
    return { harness: h, message: message as NonNullable<typeof message> };
  }

  const click = (harness: Harness, userId: string, actionId: string, value?: string) =>
    harness.slack.clickButton({
      userId,
      channelId: CHANNEL,
      actionId,
      ...(value !== undefined ? { value } : {}),
    });

  /** The feed message once its Labels field reads `shown`. */
  const showing = (harness: Harness, shown: string) =>
    until(() => harness.feedMessages().find((m) => labelsShown(m) === shown));

  it('a feed message has the two buttons and no labels yet', async () => {
    const { message } = await oneFeedMessage();
    const buttons = JSON.stringify(message.blocks);
    expect(buttons).toContain('"action_id":"label_real"');
    expect(buttons).toContain('"action_id":"label_noise"');
    expect(buttons).toContain('👍 Real');
    expect(buttons).toContain('👎 Noise');
    expect(labelsShown(message)).toBe('none yet — is it real?');
  });

  it('one label per person, a second click replaces it, two people count twice; status reconciles', async () => {
    const { harness, message } = await oneFeedMessage();
    const ack = await click(harness, VIEWER, 'label_real');
    expect(ack.status).toBe(200);
    await showing(harness, '1 real, 0 noise (from 1 person)');
    expect(await labelRows(harness)).toEqual([
      {
        asset: 'bitcoin',
        window_end: '2025-01-31T23:00:00.000Z',
        user: VIEWER,
        label: 'real',
        model_version: 1,
      },
    ]);

    // The same person again, the other way: their label is replaced, not added.
    await click(harness, VIEWER, 'label_noise');
    await showing(harness, '0 real, 1 noise (from 1 person)');
    expect((await labelRows(harness)).map((r) => [r.user, r.label])).toEqual([[VIEWER, 'noise']]);

    // Two more people.
    await click(harness, OPS, 'label_real');
    await showing(harness, '1 real, 1 noise (from 2 people)');
    await click(harness, CAROL, 'label_real');
    const updated = await showing(harness, '2 real, 1 noise (from 3 people)');
    expect(updated.ts).toBe(message.ts); // updated in place, not posted again
    expect(updated.edited).toBeDefined();
    expect(harness.feedMessages()).toHaveLength(1);

    // status: precision per model version, as a direct SELECT on the labels table counts it.
    const [direct] = await harness.lake.platform.db.all<{ windows: number; real: number; noise: number }>(
      `SELECT count(DISTINCT (asset, window_end)) AS windows, count(*) FILTER (WHERE label = 'real') AS real,
         count(*) FILTER (WHERE label = 'noise') AS noise FROM labels WHERE model_version = 1`,
    );
    expect(direct).toEqual({ windows: 1, real: 2, noise: 1 });
    const reply = await statusCommand({ platform: harness.lake.platform, now: harness.lake.clock.now() });
    const table = reply.tables?.find((tb) => tb.title === 'Labels');
    expect(table?.rows).toEqual([['v1', '1', '2', '1', `${((2 / 3) * 100).toFixed(1)} %`]]);
    // The same table in the channel's `status`.
    await harness.slack.slashCommand({ userId: VIEWER, channelId: CHANNEL, text: 'status' });
    const answer = await until(() =>
      harness.slack.ephemeral(VIEWER).find((m) => JSON.stringify(m).includes('Pipeline status')),
    );
    expect(JSON.stringify(answer)).toContain('66.7 %');
  });

  it('refuses a forged or unknown delivery id with a sentence, storing nothing', async () => {
    const { harness, message } = await oneFeedMessage();
    const deliveryId = String(message.metadata?.event_payload.delivery_id);
    for (const forged of ['00000000-0000-4000-8000-000000000000', 'not-a-delivery-id', `${deliveryId}x`]) {
      await click(harness, VIEWER, 'label_real', forged);
    }
    const refusals = await until(() => {
      const found = harness.slack
        .ephemeral(VIEWER)
        .filter((m) => JSON.stringify(m).includes('does not belong to a feed message the bot knows'));
      return found.length === 3 ? found : undefined;
    });
    expect(refusals).toHaveLength(3);
    expect(await labelRows(harness)).toEqual([]);
    expect(labelsShown(harness.feedMessages()[0])).toBe('none yet — is it real?');
  });
});

describe('labels from a Teams channel', () => {
  /** The card of a bot message, and the value of its label button. */
  function labelButton(card: unknown, verb: string): { value?: string } | undefined {
    const text = JSON.stringify(card);
    const m = new RegExp(`"verb":"${verb}","data":(\\{[^}]*\\})`).exec(text);
    return m ? (JSON.parse(m[1] as string) as { value?: string }) : undefined;
  }

  it('an Action.Execute with the verb stores a label and answers with the updated card', async () => {
    t = await startTeamsHarness({ hours: 3 });
    await t.install();
    await onlyOneAnomaly(t.lake);
    expect(await t.bot.feed.runOnce()).toMatchObject({ posted: 1 });
    const harness = t;
    const card = await until(() =>
      harness.teams.botMessages(TEAM.id).find((m) => JSON.stringify(m.activity).includes('label_real')),
    );
    expect(JSON.stringify(card.activity)).toContain('none yet — is it real?');
    const data = labelButton(card.activity, 'label_real');
    expect(data?.value).toMatch(/^[0-9a-f-]{36}$/);
    // A click on the card in the channel: its conversation is the channel's, with the message id.
    const conversation = {
      isGroup: true,
      conversationType: 'channel',
      tenantId: TENANT,
      id: `${TEAM.id};messageid=${card.id}`,
    };
    const res = await t.teams.send(
      t.teams.activities.cardAction(VIEWER_T, conversation, card.id, 'label_real', data),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      statusCode: 200,
      type: 'application/vnd.microsoft.card.adaptive',
      value: { type: 'AdaptiveCard' },
    });
    expect(JSON.stringify(res.body)).toContain('1 real, 0 noise (from 1 person)');
    expect(await labelRows(t)).toEqual([
      {
        asset: 'bitcoin',
        window_end: '2025-01-31T23:00:00.000Z',
        user: VIEWER_T.aadObjectId,
        label: 'real',
        model_version: 1,
      },
    ]);
    // Everyone sees the new counts: the card was replaced in place.
    await until(() =>
      harness.teams
        .botMessages(TEAM.id)
        .find((m) => m.id === card.id && JSON.stringify(m.activity).includes('1 real, 0 noise')),
    );

    // A forged delivery id: a sentence, nothing stored.
    const forged = await t.teams.send(
      t.teams.activities.cardAction(VIEWER_T, conversation, card.id, 'label_noise', {
        value: '00000000-0000-4000-8000-000000000000',
      }),
    );
    expect(forged.body).toMatchObject({
      statusCode: 200,
      type: 'application/vnd.microsoft.activity.message',
    });
    expect(JSON.stringify(forged.body)).toContain('does not belong to a feed message the bot knows');
    expect((await labelRows(t)).map((r) => r.label)).toEqual(['real']);
  }, 60_000);
});

describe('labels on Databricks', () => {
  it('are written as a JSONL file into the volume with the Files API: no SQL, no warehouse start', async () => {
    d = await startDatabricksHarness({ warehouseState: 'STOPPED' });
    d.api.createVolume('workspace', 'crypto', 'landing'); // as provisioning makes it
    const label: Label = {
      asset: 'bitcoin',
      window_end: '2025-01-31T23:00:00.000Z',
      user: VIEWER,
      label: 'noise',
      model_version: 3,
      labelled_at: '2025-02-01T00:00:00.000Z',
    };
    await d.platform.pipeline.recordLabels([label, { ...label, user: OPS, label: 'real' }]);
    const puts = d.api.calls.filter((c) => c.method === 'PUT' && c.path.includes('/labels/'));
    expect(puts).toHaveLength(1);
    const path = (puts[0]?.path ?? '').replace(/^\/api\/2\.0\/fs\/files/, '');
    expect(path).toMatch(new RegExp(`^${VOLUME_ROOT}/labels/\\d{8}T\\d{9}Z-[0-9a-f-]{36}\\.jsonl$`));
    const lines = String(d.api.volumeFile(path)).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual([label, { ...label, user: OPS, label: 'real' }]);
    // Read back by SQL only while the warehouse runs (tests/integration/databricks-labels.test.ts):
    // stopped, there is no precision now, and nothing starts it.
    expect(await d.platform.reads.labelPrecision?.()).toBeUndefined();
    expect(d.warehouse.statements).toHaveLength(0);
    expect(d.api.warehouseStarts(WAREHOUSE_ID)).toBe(0);
  });
});
