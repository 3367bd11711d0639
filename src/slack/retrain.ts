import type { RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Clock } from '../clock.js';
import { versionsTable } from '../commands/models.js';
import { followRetrain } from '../jobs/retrain.js';
import type { Logger } from '../log.js';
import type { Platform, RetrainRun } from '../platform/port.js';
import { renderBlocks } from '../render/blocks.js';
import { formatTime } from '../render/format.js';
import type { Reply } from '../render/reply.js';
import type { Access } from './access.js';

export const RETRAIN_CONFIRM = 'retrain_confirm';

export interface RetrainFlowDeps {
  platform: Platform;
  client: WebClient;
  access: Access;
  clock: Clock;
  logger: Logger;
  /** How often a running retrain's state is read. */
  pollMs: number;
}

/**
 * `/crypto retrain`, an ops action: a confirmation button first; then training starts and its
 * progress is posted in a thread, one reply updated in place (queued → running → succeeded or
 * failed) ending with the new version's metrics beside the champion's. While a run goes, another
 * request links to it instead of starting a second one. Everyone else is refused before any
 * platform call; every step is an audit line.
 */
export function createRetrainFlow(deps: RetrainFlowDeps) {
  const { platform, client, access } = deps;
  /** The progress thread of each run started here; set before the thread exists, resolved once it does. */
  const threads = new Map<string, Promise<{ channel: string; ts: string } | undefined>>();
  const following = new Set<Promise<void>>();

  async function refuse(userId: string, respond: RespondFn, step: string): Promise<boolean> {
    if (await access.isOps(userId)) return false;
    access.audit({ who: userId, what: `retrain (${step})`, result: 'refused: not an ops user' });
    await respond({
      response_type: 'ephemeral',
      replace_original: false,
      text: 'Only the ops team can retrain the model. Ask someone in SLACK_OPS_USERS or the ops user group.',
    });
    return true;
  }

  async function permalink(
    pending: Promise<{ channel: string; ts: string } | undefined> | undefined,
  ): Promise<string> {
    const thread = pending
      ? await Promise.race([
          pending,
          new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5_000)),
        ])
      : undefined;
    if (!thread) return 'its progress is in the channel where it was started';
    try {
      const res = await client.chat.getPermalink({ channel: thread.channel, message_ts: thread.ts });
      return res.permalink ? `<${res.permalink}|see its thread>` : 'see its thread';
    } catch {
      return 'see its thread';
    }
  }

  return {
    /** The slash command: ops users get a confirmation button. */
    async request(userId: string, respond: RespondFn): Promise<void> {
      if (await refuse(userId, respond, 'request')) return;
      access.audit({ who: userId, what: 'retrain (request)', result: 'asked to confirm' });
      const reply: Reply = {
        title: 'Retrain the anomaly model?',
        summary:
          'This trains a new model version on the latest Gold windows. With automatic promotion it becomes the champion ' +
          'and the last 24 hours are scored again with it.',
        actions: [
          {
            id: RETRAIN_CONFIRM,
            label: 'Retrain now',
            value: 'retrain',
            style: 'primary',
            confirm: {
              title: 'Retrain the model?',
              text: 'A new model version is trained now; progress is posted in a thread in this channel.',
              confirm: 'Retrain',
              deny: 'Cancel',
            },
          },
        ],
        data: {},
      };
      await respond({ response_type: 'ephemeral', ...renderBlocks(reply) });
    },

    /** The confirmation button: starts a run, or links to the one already going. */
    async confirm(userId: string, channel: string, respond: RespondFn): Promise<void> {
      if (await refuse(userId, respond, 'confirm')) return;
      const { run, started } = await platform.retrain({ requestedBy: userId });
      if (!started) {
        access.audit({ who: userId, what: 'retrain (confirm)', result: `joined running run ${run.id}` });
        await respond({
          response_type: 'ephemeral',
          replace_original: false,
          text: `A retrain is already ${run.state} (asked for by ${mention(run.requested_by)} at ${formatTime(run.created_at)}): ${await permalink(threads.get(run.id))}.`,
        });
        return;
      }
      access.audit({ who: userId, what: 'retrain (confirm)', result: `started run ${run.id}` });
      // Other requests for this run wait for its thread to exist, to link to it.
      let opened: (thread: { channel: string; ts: string } | undefined) => void = () => {};
      threads.set(run.id, new Promise((resolve) => (opened = resolve)));
      const root = await client.chat
        .postMessage({ channel, text: `🔁 Model retrain asked for by <@${userId}>` })
        .catch((err: unknown) => {
          opened(undefined);
          throw err;
        });
      const thread = { channel: root.channel as string, ts: root.ts as string };
      opened(thread);
      const progress = await client.chat.postMessage({
        channel: thread.channel,
        thread_ts: thread.ts,
        ...renderBlocks(progressReply(run)),
      });
      await respond({
        response_type: 'ephemeral',
        replace_original: true,
        text: `Retrain started: ${await permalink(Promise.resolve(thread))}.`,
      });
      const follow = followRetrain(platform, run.id, {
        pollMs: deps.pollMs,
        onChange: async (current) => {
          await client.chat.update({
            channel: thread.channel,
            ts: progress.ts as string,
            ...renderBlocks(progressReply(current)),
          });
        },
      })
        .then((done) => {
          access.audit({
            who: userId,
            what: 'retrain',
            result:
              done.state === 'succeeded'
                ? `succeeded: v${done.result?.version.version}`
                : `failed: ${done.error}`,
          });
        })
        .catch((err: unknown) =>
          deps.logger.error({ run: run.id, err: String(err) }, 'could not follow the retrain'),
        )
        .finally(() => following.delete(follow));
      following.add(follow);
    },

    /** Waits for the progress threads being followed (shutdown). */
    async stop(): Promise<void> {
      await Promise.all(following);
    },
  };
}

function mention(user: string): string {
  return /^[UW][A-Z0-9]+$/.test(user) ? `<@${user}>` : user;
}

/** The progress reply of a run, for each of its states. */
export function progressReply(run: RetrainRun): Reply {
  const title = {
    queued: '⏳ Retrain queued',
    running: '⚙️ Training a new model…',
    succeeded: `✅ Model v${run.result?.version.version} trained`,
    failed: '❌ Retrain failed',
  }[run.state];
  if (run.state === 'failed') {
    return {
      title,
      summary: run.error ?? 'The training run failed.',
      notes: ['See `/crypto status` for the pipeline.'],
      data: run,
    };
  }
  if (run.state !== 'succeeded' || !run.result) {
    return {
      title,
      summary: `Asked for by ${mention(run.requested_by)} at ${formatTime(run.created_at)}.`,
      data: run,
    };
  }
  const result = run.result;
  const previous = result.previous_champion;
  const moved = result.promoted
    ? previous
      ? `Champion moved: v${previous.version} → v${result.version.version}.`
      : `v${result.version.version} is the first champion.`
    : `Champion stays ${result.champion ? `v${result.champion.version}` : 'unset'} (manual promotion); the new version is a challenger.`;
  const shown = [
    result.version,
    ...(previous && previous.version !== result.version.version ? [previous] : []),
  ];
  return {
    title,
    summary: moved,
    tables: [
      {
        ...versionsTable(shown, new Date(run.finished_at ?? run.created_at)),
        title: 'New version beside the champion before it',
      },
    ],
    data: run,
  };
}
