import { afterEach, describe, expect, it } from 'vitest';
import { type Command, commandNames, commands } from '../../src/commands/registry.js';
import { decodePng } from '../support/png.js';
import { addAnomalyBurst, onlyOneAnomaly } from '../support/slack-bot-harness.js';
import {
  APP_PASSWORD,
  OPS,
  startTeamsHarness,
  TEAM,
  type TeamsHarness,
  VIEWER,
} from '../support/teams-bot-harness.js';
import { personalConversationId, type StoredMessage, teamsUser } from '../support/teams-emulator.js';
import { until } from '../support/until.js';

let h: TeamsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup(options: Parameters<typeof startTeamsHarness>[0] = {}) {
  h = await startTeamsHarness(options);
  return h;
}

/** The Adaptive Card of a bot message, when it carries one. */
function cardOf(m: StoredMessage): Record<string, unknown> | undefined {
  const attachments = (m.activity.attachments ?? []) as Array<{ contentType?: string; content?: unknown }>;
  const card = attachments.find((a) => a.contentType === 'application/vnd.microsoft.card.adaptive');
  return card?.content as Record<string, unknown> | undefined;
}

const text = (m: StoredMessage) => JSON.stringify(m.activity);

/** The 1:1 chat of a user with the bot. */
const personal = (harness: TeamsHarness, user = VIEWER) =>
  personalConversationId(harness.settings.credentials?.clientId ?? '', user);

/** The bot's answers in a conversation that contain `needle`. */
async function answer(harness: TeamsHarness, conversation: string, needle: string, ms = 15_000) {
  return until(() => harness.teams.botMessages(conversation).find((m) => text(m).includes(needle)), ms);
}

/** Image URLs in a card, depth first. */
function imageUrls(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(imageUrls);
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    const own = o.type === 'Image' && typeof o.url === 'string' ? [o.url] : [];
    return [...own, ...Object.values(o).flatMap(imageUrls)];
  }
  return [];
}

describe('commands', () => {
  it('acknowledge at once while every platform call takes 5 s, then answer with a card', async () => {
    const harness = await setup({ delayMs: 5_000 });
    const sent = await harness.teams.send(harness.teams.activities.personalMessage(VIEWER, 'status'));
    expect(sent.status).toBe(200);
    expect(sent.ms).toBeLessThan(1_000);
    const reply = await answer(harness, personal(harness), 'Pipeline status', 30_000);
    expect(cardOf(reply)).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
  }, 60_000);

  it('answer every command: a card, or the ops refusal for ops actions', async () => {
    const harness = await setup();
    for (const name of commandNames) {
      const example = commands[name].examples[0] ?? name;
      await harness.teams.send(harness.teams.activities.personalMessage(VIEWER, example));
    }
    const chat = personal(harness);
    // Ops actions are refused (`schedule` alone, its first example, is for everyone).
    const ops = commandNames.filter((n) => {
      const entry = commands[n] as Command<unknown>;
      const parsed = entry.parse((entry.examples[0] ?? n).split(' ').slice(1));
      return entry.ops && parsed.ok && (entry.ops.when?.(parsed.args) ?? true);
    }).length;
    const answers = await until(() => {
      const all = harness.teams.botMessages(chat);
      return all.length >= commandNames.length ? all : undefined;
    }, 30_000);
    expect(answers.filter((m) => cardOf(m)).length).toBe(commandNames.length - ops);
    expect(answers.filter((m) => /Only the ops team/.test(String(m.activity.text))).length).toBe(ops);
    // No pipeline operation ran (`schedule` only reads the stored schedules).
    expect(harness.calls.filter((c) => c.startsWith('pipeline.') && c !== 'pipeline.state.get')).toEqual([]);
  }, 60_000);

  it('answer `top` with a card whose chart image URL serves a PNG', async () => {
    const harness = await setup();
    await harness.teams.send(harness.teams.activities.personalMessage(VIEWER, 'top 5 24h'));
    const reply = await answer(harness, personal(harness), 'Top anomalies');
    const urls = imageUrls(cardOf(reply));
    expect(urls).toHaveLength(1);
    const url = urls[0] as string;
    expect(url).toMatch(new RegExp(`^${harness.settings.publicUrl}/charts/[0-9a-f]{64}\\.png$`));
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = decodePng(Buffer.from(await res.arrayBuffer()));
    expect(png.width).toBeGreaterThan(100);
  });

  it('answer an @mention in a channel in its thread, the mention stripped', async () => {
    const harness = await setup();
    const activity = harness.teams.activities.channelMention(
      VIEWER,
      TEAM,
      { id: TEAM.id, name: 'General' },
      'help',
    );
    await harness.teams.send(activity);
    const conversation = (activity.conversation as { id: string }).id;
    const reply = await answer(harness, conversation, 'top');
    expect(cardOf(reply)).toBeDefined();
    expect(text(reply)).not.toMatch(/is not a command/);
  });
});

describe('requests', () => {
  it.each(['none', 'expired', 'foreign-key', 'wrong-audience', 'wrong-issuer', 'hs256'] as const)(
    'refuse a request with token %s (401), running nothing',
    async (token) => {
      const harness = await setup();
      const res = await harness.teams.send(harness.teams.activities.personalMessage(VIEWER, 'status'), {
        token,
      });
      expect(res.status).toBe(401);
      await new Promise((r) => setTimeout(r, 300));
      expect(harness.calls).toEqual([]);
      expect(harness.teams.botMessages(personal(harness))).toEqual([]);
    },
  );

  it('refuse a body over 1 MiB (413), another method (405), and what is not JSON (400/415)', async () => {
    const harness = await setup();
    const big = await fetch(harness.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'message', text: 'x'.repeat(1024 * 1024 + 10) }),
    });
    expect(big.status).toBe(413);
    expect((await fetch(harness.endpoint)).status).toBe(405);
    const notJson = await fetch(harness.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"type":',
    });
    expect(notJson.status).toBe(400);
    const form = await fetch(harness.endpoint, { method: 'POST', body: 'a=b' });
    expect(form.status).toBe(415);
    expect(harness.calls).toEqual([]);
  });

  it('serve /healthz, and 404 for an unknown chart', async () => {
    const harness = await setup();
    const health = await fetch(`${harness.settings.publicUrl}/healthz`);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    expect((await fetch(`${harness.settings.publicUrl}/charts/${'0'.repeat(64)}.png`)).status).toBe(404);
    expect((await fetch(`${harness.settings.publicUrl}/charts/..%2f..%2fetc.png`)).status).toBe(404);
  });

  it.each([
    '<at>crypto-risk</at> top; DROP TABLE anomalies',
    '[x](http://evil.example) **bold**',
    'top 99999999999999999999',
    '\u0000\u202e top',
    'x'.repeat(5_000),
  ])('answer hostile text #%# with the usage', async (hostile) => {
    const harness = await setup();
    await harness.teams.send(harness.teams.activities.personalMessage(VIEWER, hostile));
    const reply = await answer(harness, personal(harness), 'top');
    expect(cardOf(reply)).toBeDefined();
    // What a card shows (its text blocks) never becomes a link or a mention.
    expect(JSON.stringify(cardOf(reply)?.body)).not.toMatch(/[^\\]\]\(http:\/\/evil|[^\\]<at>/);
    expect(harness.calls.filter((c) => c.startsWith('pipeline.'))).toEqual([]);
  });

  it('refuse to start with a client secret Entra does not accept, saying which settings to check', async () => {
    const harness = await setup({ start: false });
    const wrong = {
      ...harness.settings,
      credentials: {
        ...(harness.settings.credentials as NonNullable<TeamsHarness['settings']['credentials']>),
        clientSecret: 'wrong-secret-value',
      },
    };
    const { createTeamsBot } = await import('../../src/teams/bot.js');
    const bot = await createTeamsBot({
      settings: wrong,
      platform: harness.lake.platform,
      log: harness.log,
      store: harness.lake.platform.db,
      clock: harness.lake.clock,
      logger: (await import('../support/memory-logger.js')).memoryLogger().logger,
    });
    const failure = await bot.start().catch((err: unknown) => err as Error);
    expect(failure).toBeInstanceOf(Error);
    expect(String((failure as Error).message)).toMatch(
      /Microsoft Entra refused .*invalid_client.*TEAMS_CLIENT_SECRET/,
    );
    expect(String((failure as Error).message)).not.toContain('wrong-secret-value');
    await bot.stop();
  });

  it('gets one connector token for many calls, and never logs the secret or a token', async () => {
    const harness = await setup();
    for (const words of ['status', 'help', 'top']) {
      await harness.teams.send(harness.teams.activities.personalMessage(VIEWER, words));
    }
    await until(() => harness.teams.botMessages(personal(harness)).length >= 3);
    const botTokens = harness.teams.tokenRequests().filter((r) => r.scope?.includes('botframework'));
    expect(botTokens).toHaveLength(1);
    const logged = harness.logLines.join('\n');
    expect(logged).not.toContain(APP_PASSWORD);
    expect(logged).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}/);
  });

  it('refuse to start without credentials on an address other than loopback', async () => {
    const harness = await setup({ start: false, settings: { credentials: undefined, host: '0.0.0.0' } });
    await expect(harness.bot.start()).rejects.toThrow(/loopback only/);
  });
});

/** The Action.Execute of a card with this verb, wherever it sits (a ShowCard holds the confirmed one). */
function executeAction(node: unknown, verb: string): { verb: string; data: { value?: string } } | undefined {
  if (Array.isArray(node)) {
    for (const n of node) {
      const found = executeAction(n, verb);
      if (found) return found;
    }
    return undefined;
  }
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.type === 'Action.Execute' && o.verb === verb) return o as never;
    for (const v of Object.values(o)) {
      const found = executeAction(v, verb);
      if (found) return found;
    }
  }
  return undefined;
}

describe('retrain (an ops action)', () => {
  it('refuses a user who is not ops, with zero platform calls and an audit line', async () => {
    const harness = await setup();
    await harness.teams.send(harness.teams.activities.personalMessage(VIEWER, 'retrain'));
    await answer(harness, personal(harness), 'Only the ops team');
    expect(harness.calls).toEqual([]);
    expect(harness.audits()[0]).toMatchObject({
      who: VIEWER.aadObjectId,
      what: 'retrain (request)',
      result: 'refused: not an ops user',
    });
  });

  it('refuses a confirmation from someone who is not ops before any platform call', async () => {
    const harness = await setup();
    const conversation = harness.teams.activities.personalConversation(VIEWER);
    const res = await harness.teams.send(
      harness.teams.activities.cardAction(VIEWER, conversation, '1700000000000', 'retrain_confirm', {
        value: 'f'.repeat(32),
      }),
    );
    expect(res.status).toBe(200);
    await answer(harness, personal(harness), 'Only the ops team');
    expect(harness.calls).toEqual([]);
    expect(harness.audits()).toContainEqual(
      expect.objectContaining({
        who: VIEWER.aadObjectId,
        what: 'retrain (confirm)',
        result: 'refused: not an ops user',
      }),
    );
  });

  it('asks an ops user to confirm; two quick confirmations start one run, whose card ends with the champion comparison', async () => {
    const harness = await setup();
    const chat = personal(harness, OPS);
    await harness.teams.send(harness.teams.activities.personalMessage(OPS, 'retrain'));
    const confirmation = await answer(harness, chat, 'retrain_confirm');
    const action = executeAction(cardOf(confirmation), 'retrain_confirm');
    expect(action?.data.value).toMatch(/^[0-9a-f]{32}$/);
    const conversation = harness.teams.activities.personalConversation(OPS);
    const click = () =>
      harness.teams.send(
        harness.teams.activities.cardAction(
          OPS,
          conversation,
          confirmation.id,
          'retrain_confirm',
          action?.data,
        ),
      );
    const [first, second] = await Promise.all([click(), click()]);
    for (const res of [first, second]) {
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(1_000);
      expect(res.body).toMatchObject({
        statusCode: 200,
        type: 'application/vnd.microsoft.card.adaptive',
        value: { type: 'AdaptiveCard' },
      });
      expect(JSON.stringify(res.body)).toContain('Retrain starting');
    }
    // The confirmation card itself shows the run, updated in place to its outcome.
    const done = await until(() => {
      const card = harness.teams.botMessages(chat).find((m) => m.id === confirmation.id);
      return card && /Champion moved: v1 → v2/.test(text(card)) ? card : undefined;
    }, 30_000);
    expect(done.history.length).toBeGreaterThanOrEqual(2);
    const versions = await harness.lake.platform.pipeline.models();
    expect(versions.versions.map((v) => v.version)).toEqual([2, 1]);
    expect(harness.calls.filter((c) => c === 'pipeline.retrain')).toHaveLength(1);
    expect(harness.audits().filter((a) => /^started run/.test(a.result))).toHaveLength(1);
    await answer(harness, chat, 'already used');
  }, 60_000);

  it('fails closed when Graph cannot be read: the group member is refused, with a warning', async () => {
    const harness = await setup();
    harness.teams.fault({
      method: 'POST',
      path: '/v1.0/users/*/checkMemberGroups',
      kind: 'status',
      status: 503,
      times: Infinity,
    });
    await harness.teams.send(harness.teams.activities.personalMessage(OPS, 'retrain'));
    await answer(harness, personal(harness, OPS), 'Only the ops team');
    expect(harness.calls).toEqual([]);
    expect(harness.logLines.join('\n')).toContain('could not read the ops user group');
  });

  it('fails closed when Graph is throttled or drops the connection', async () => {
    const harness = await setup();
    harness.teams.fault({
      method: 'POST',
      path: '/v1.0/users/*/checkMemberGroups',
      kind: 'status',
      status: 429,
      retryAfter: 1,
    });
    await harness.teams.send(harness.teams.activities.personalMessage(OPS, 'retrain'));
    await answer(harness, personal(harness, OPS), 'Only the ops team');
    harness.teams.fault({ method: 'POST', path: '/v1.0/users/*/checkMemberGroups', kind: 'drop' });
    await harness.teams.send(harness.teams.activities.personalMessage(OPS, 'retrain'));
    await until(
      () =>
        harness.teams.botMessages(personal(harness, OPS)).filter((m) => text(m).includes('Only the ops team'))
          .length === 2,
    );
    // Once Graph answers again, the member gets in.
    await harness.teams.send(harness.teams.activities.personalMessage(OPS, 'retrain'));
    await answer(harness, personal(harness, OPS), 'retrain_confirm');
    expect(harness.calls).toEqual([]);
  });
});

describe('anomaly feed', () => {
  /** The anomaly cards of the feed (not its data-incident announcements, from the simulator's stalls). */
  const feedCards = (harness: TeamsHarness) =>
    harness.teams
      .botMessages(TEAM.id)
      .filter((m) => cardOf(m) !== undefined && !JSON.stringify(cardOf(m)).includes('Data incident'));
  const delivered = (harness: TeamsHarness) =>
    harness.lake.platform.db.all<{ asset: string; window_end: string; delivery_id: string }>(
      'SELECT asset, window_end, delivery_id FROM feed_windows WHERE channel = :c',
      { c: TEAM.id },
    );

  it('has nowhere to post before the app is installed in a team, and says so', async () => {
    const harness = await setup({ hours: 3 });
    await expect(harness.bot.feed.runOnce()).rejects.toThrow(
      /install the app in a team channel or set TEAMS_FEED_CONVERSATION/,
    );
  });

  it('posts a burst once, in a few cards within Teams’ rate limits, and nothing on the next cycle', async () => {
    const harness = await setup({ hours: 3, emulator: { rateLimit: true } });
    await harness.install();
    await addAnomalyBurst(harness.lake);
    const result = await harness.bot.feed.runOnce();
    const cards = feedCards(harness);
    expect(result.posted).toBe(cards.length);
    expect(cards.length).toBeGreaterThan(0);
    expect(cards.length).toBeLessThanOrEqual(6);
    const windows = (await delivered(harness)).filter((w) => w.asset.startsWith('asset-'));
    expect(windows).toHaveLength(200);
    expect(new Set(windows.map((w) => `${w.asset}|${w.window_end}`)).size).toBe(200);
    expect(harness.teams.calls.filter((c) => c.status === 429)).toEqual([]);
    for (const card of cards) expect(imageUrls(cardOf(card)).length).toBeLessThanOrEqual(1);
    expect(await harness.bot.feed.runOnce()).toMatchObject({ posted: 0, updated: 0 });
    expect(feedCards(harness)).toHaveLength(cards.length);
  });

  it('waits out a 429 (Retry-After) and posts', async () => {
    const harness = await setup({ hours: 3 });
    await harness.install();
    await onlyOneAnomaly(harness.lake);
    harness.teams.fault({
      method: 'POST',
      path: '/teams/v3/conversations/*/activities',
      kind: 'status',
      status: 429,
      retryAfter: 1,
    });
    const started = Date.now();
    const result = await harness.bot.feed.runOnce();
    expect(result.posted).toBe(1);
    const posts = harness.teams.calls.filter((c) => c.method === 'POST' && c.path.includes('/activities'));
    expect(posts.map((p) => p.status)).toEqual([429, 201]);
    expect((posts[1]?.at ?? 0) - (posts[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('updates the card of a re-scored window in place (PUT) instead of posting a new one', async () => {
    const harness = await setup({ hours: 30 });
    await harness.install();
    await harness.bot.feed.runOnce();
    const before = feedCards(harness);
    expect(before.length).toBeGreaterThan(0);
    const first = (await delivered(harness))[0] as { asset: string; window_end: string };
    await harness.lake.platform.db.run(
      `UPDATE anomalies SET anomaly_score = -0.4242, model_version = 2, scored_at = TIMESTAMP '2025-02-01 00:05:00'
       WHERE asset = :asset AND window_end = CAST(:window_end AS TIMESTAMP)`,
      first,
    );
    expect(await harness.bot.feed.runOnce()).toMatchObject({ posted: 0, updated: 1 });
    const after = feedCards(harness);
    expect(after).toHaveLength(before.length);
    const updated = after.find((m) => m.history.length > 0);
    expect(updated && text(updated)).toMatch(/-0\.424/);
    expect(harness.teams.calls.filter((c) => c.method === 'PUT' && c.status === 200)).toHaveLength(1);
  });

  it('leaves a re-scored window alone when its card was deleted (404), and moves on', async () => {
    const harness = await setup({ hours: 30 });
    await harness.install();
    await harness.bot.feed.runOnce();
    const target = feedCards(harness)[0] as StoredMessage;
    const row = (await delivered(harness))[0] as { asset: string; window_end: string };
    // The bot's card is deleted in the channel (the connector's DELETE, as a bot or an admin does).
    const token = await fetch(
      `${harness.teams.loginUrl}/${harness.settings.credentials?.tenantId}/oauth2/v2.0/token`,
      {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: harness.settings.credentials?.clientId ?? '',
          client_secret: APP_PASSWORD,
          scope: 'https://api.botframework.com/.default',
        }),
      },
    ).then((r) => r.json() as Promise<{ access_token: string }>);
    const gone = await fetch(
      `${harness.teams.serviceUrl}v3/conversations/${TEAM.id}/activities/${target.id}`,
      {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token.access_token}` },
      },
    );
    expect(gone.status).toBeLessThan(300);
    const cards = feedCards(harness).length;
    const ofTarget = await harness.lake.platform.db.all<{ asset: string; window_end: string }>(
      `SELECT w.asset, w.window_end FROM feed_windows w JOIN feed_messages m USING (delivery_id)
       WHERE m.message_ts = :id LIMIT 1`,
      { id: target.id },
    );
    const first = ofTarget[0] ?? row;
    await harness.lake.platform.db.run(
      `UPDATE anomalies SET anomaly_score = -0.4242, model_version = 2, scored_at = TIMESTAMP '2025-02-01 00:05:00'
       WHERE asset = :asset AND window_end = CAST(:window_end AS TIMESTAMP)`,
      first,
    );
    expect(await harness.bot.feed.runOnce()).toMatchObject({ posted: 0, updated: 0 });
    expect(feedCards(harness)).toHaveLength(cards);
    expect(harness.teams.calls.filter((c) => c.method === 'PUT').map((c) => c.status)).toEqual([404]);
  });

  it('keeps the conversation recorded at installation across a restart', async () => {
    const harness = await setup({ hours: 3 });
    await harness.install();
    expect(await harness.bot.feed.destination()).toBe(TEAM.id);
    const restarted = await harness.restart();
    expect(await restarted.feed.destination()).toBe(TEAM.id);
    const rows = await harness.lake.platform.db.all<{ team_name: string; service_url: string }>(
      'SELECT team_name, service_url FROM teams_conversations',
    );
    expect(rows).toEqual([{ team_name: TEAM.name, service_url: harness.teams.serviceUrl }]);
  });

  it('posts to TEAMS_FEED_CONVERSATION when it is set, installed or not', async () => {
    const harness = await setup({ hours: 3, settings: { feedConversation: TEAM.id } });
    expect(await harness.bot.feed.destination()).toBe(TEAM.id);
  });
});

describe('acknowledgement before the work', () => {
  /**
   * The bot answers the connector before any platform call: 100 messages, 25 at a time, while every
   * platform call takes 5 s, are all acknowledged before the first of those calls could have
   * answered. (How fast the acknowledgement is, is measured by bench/ack --mode teams.)
   */
  it('acknowledges every message before a platform call answers, and answers each later', async () => {
    const harness = await setup({ delayMs: 5_000 });
    const users = Array.from({ length: 100 }, (_, i) =>
      teamsUser(`user-${i}`, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
    );
    const began = performance.now();
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        while (next < users.length) {
          const user = users[next++] as (typeof users)[number];
          const res = await harness.teams.send(harness.teams.activities.personalMessage(user, 'status'));
          statuses.push(res.status);
        }
      }),
    );
    const ackedWithinMs = performance.now() - began;
    expect(statuses).toEqual(users.map(() => 200));
    expect(ackedWithinMs).toBeLessThan(5_000);
    expect(harness.calls.every((c) => c.startsWith('reads.'))).toBe(true);
    // and every one of them is answered once the platform has
    const last = users.at(-1) as (typeof users)[number];
    await answer(harness, personal(harness, last), 'Pipeline status', 30_000);
  }, 60_000);
});
