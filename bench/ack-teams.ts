/**
 * bench/ack --mode teams: the Teams bot over loopback, between the Bot Framework connector, Entra and
 * Graph emulator and a platform that takes `delayMs` per call. Two rounds of `requests` activities
 * at `concurrency`, each after 50 unmeasured warm-up ones, each with a valid connector token: chat
 * messages (the commands of the Slack round), then `Action.Execute` invokes of one retrain
 * confirmation card (the first starts the run, the others are told it was used). The time measured
 * is the bot's HTTP answer to the connector (Teams expects an invoke's answer within a few
 * seconds). The load comes from a worker thread, apart from the bot's event loop.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { OPS, startTeamsHarness, TENANT } from '../tests/support/teams-bot-harness.js';
import { personalConversationId, teamsUser } from '../tests/support/teams-emulator.js';
import { until } from '../tests/support/until.js';

/** The load generator, shared with the Slack rounds (a CommonJS worker). */
const LOAD_WORKER = fileURLToPath(new URL('./load-worker.cjs', import.meta.url));
const TEXTS = ['status', 'top 10 24h', 'chart bitcoin', 'help', 'top 5 7d bitcoin'];
const WARMUP = 50;

export type LoadResult = { times: number[]; failed: number; wallMs: number };

/** The first Action.Execute of a card with this verb, depth first (it may sit in an Action.ShowCard). */
function executeData(node: unknown, verb: string): Record<string, unknown> | undefined {
  if (Array.isArray(node)) {
    for (const n of node) {
      const found = executeData(n, verb);
      if (found) return found;
    }
    return undefined;
  }
  if (!node || typeof node !== 'object') return undefined;
  const o = node as Record<string, unknown>;
  if (o.type === 'Action.Execute' && o.verb === verb) return (o.data ?? {}) as Record<string, unknown>;
  for (const v of Object.values(o)) {
    const found = executeData(v, verb);
    if (found) return found;
  }
  return undefined;
}

export async function runTeamsAck(options: {
  requests: number;
  concurrency: number;
  delayMs: number;
}): Promise<{ messages: LoadResult; invokes: LoadResult; starts: number }> {
  const harness = await startTeamsHarness({ hours: 24, delayMs: options.delayMs });
  const { teams, endpoint } = harness;
  try {
    const token = teams.sign('valid') as string;
    const round = (bodies: string[], warmup: string[]) => {
      const load = new Worker(LOAD_WORKER, {
        workerData: {
          url: endpoint,
          auth: { token },
          bodies,
          warmup,
          concurrency: options.concurrency,
        },
      });
      return new Promise<LoadResult>((resolve, reject) => {
        load.once('message', resolve);
        load.once('error', reject);
      });
    };
    // Messages: each from a user of its own, in their 1:1 chat with the bot.
    const users = Array.from({ length: WARMUP + options.requests }, (_, i) =>
      teamsUser(`user-${i}`, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
    );
    const message = (i: number) =>
      JSON.stringify(
        teams.activities.personalMessage(
          users[i] as (typeof users)[number],
          TEXTS[i % TEXTS.length] as string,
        ),
      );
    const messages = await round(
      Array.from({ length: options.requests }, (_, i) => message(WARMUP + i)),
      Array.from({ length: WARMUP }, (_, i) => message(i)),
    );

    // Invokes: the ops user's retrain confirmation card, pressed again and again.
    await teams.send(teams.activities.personalMessage(OPS, 'retrain'));
    const chat = personalConversationId(harness.settings.credentials?.clientId ?? '', OPS);
    const card = await until(
      () => teams.botMessages(chat).find((m) => JSON.stringify(m.activity).includes('retrain_confirm')),
      60_000,
    );
    const data = executeData(card.activity.attachments, 'retrain_confirm') ?? {};
    const conversation = { id: chat, conversationType: 'personal', tenantId: TENANT };
    const invoke = () =>
      JSON.stringify(teams.activities.cardAction(OPS, conversation, card.id, 'retrain_confirm', data));
    const invokes = await round(
      Array.from({ length: options.requests }, invoke),
      Array.from({ length: WARMUP }, invoke),
    );
    const starts = harness.calls.filter((c) => c === 'pipeline.retrain').length;
    return { messages, invokes, starts };
  } finally {
    // The answers go on in the background (each platform call takes delayMs): do not wait for them.
    void harness.close().catch(() => undefined);
  }
}
