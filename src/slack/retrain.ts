import { randomBytes } from 'node:crypto';
import type { RespondFn } from '@slack/bolt';
import type { ChatPostMessageArguments, WebClient } from '@slack/web-api';
import type { Clock } from '../clock.js';
import { versionsTable } from '../commands/models.js';
import { RETRAIN_REFUSAL } from '../commands/registry.js';
import { formatTime } from '../domain/format.js';
import type { Mention, Reply } from '../domain/reply.js';
import { followRetrain } from '../jobs/retrain.js';
import type { Logger } from '../log.js';
import type { Platform, RetrainRun } from '../platform/port.js';
import { renderBlocks } from '../render/blocks.js';
import type { Access } from './access.js';
import { type ChannelPacer, refusedBySlack, waitingOutRateLimits } from './web-calls.js';

export const RETRAIN_CONFIRM = 'retrain_confirm';

/** How long a confirmation button can be pressed. */
const CONFIRMATION_TTL_MS = 15 * 60_000;

export interface RetrainFlowDeps {
  platform: Platform;
  client: WebClient;
  access: Access;
  clock: Clock;
  logger: Logger;
  /** How often a running retrain's state is read. */
  pollMs: number;
  /** Posts the thread: a client that never retries a post blindly and refuses on 429 (waited out here). */
  poster: WebClient;
  /** Spaces the bot's posts to each channel (shared with the feed). */
  pacer: ChannelPacer;
  /** The feed channel's id: progress goes there when the bot cannot post where retrain was asked. */
  feedChannel(): Promise<string>;
}

type Thread = { channel: string; ts: string };

/**
 * `/crypto retrain`, an ops action: a confirmation button first; then training starts and its
 * progress is posted in a thread, one reply updated in place (queued → running → succeeded or
 * failed) ending with the new version's metrics beside the champion's. While a run goes, another
 * request links to it instead of starting a second one. Everyone else is refused before any
 * platform call (the command by its dispatch, the button here); every step is an audit line.
 *
 * A confirmation is honoured once: its button carries a one-shot token, consumed on use, so a
 * replayed or crafted click is refused. The thread goes where the bot can post: `chat:write`
 * covers only conversations the bot is in, and `/crypto retrain` can be typed anywhere (a channel
 * without the bot, a DM between people), so that is decided before the run starts: the channel
 * when the bot is a member, else the feed channel, linked back to the requester.
 */
export function createRetrainFlow(deps: RetrainFlowDeps) {
  const { platform, client, access, clock } = deps;
  /** The progress thread of each run started here; set before the thread exists, resolved once it does. */
  const threads = new Map<string, Promise<Thread | undefined>>();
  const following = new Set<Promise<void>>();
  /**
   * Confirmation tokens: who may press the button, until when, and once pressed the run it started
   * (kept until it expires, so a second press can say where that run is).
   */
  const confirmations = new Map<
    string,
    { userId: string; expiresAt: number; run?: Promise<string | undefined> }
  >();

  async function refuse(userId: string, respond: RespondFn): Promise<boolean> {
    if (await access.isOps(userId)) return false;
    access.audit({ who: userId, what: 'retrain (confirm)', result: 'refused: not an ops user' });
    await respond({
      response_type: 'ephemeral',
      replace_original: false,
      text: RETRAIN_REFUSAL,
    });
    return true;
  }

  /** A new one-shot token for a confirmation button shown to this user. */
  function issueToken(userId: string): string {
    const now = clock.now().getTime();
    for (const [token, c] of confirmations) if (c.expiresAt <= now) confirmations.delete(token);
    const token = randomBytes(16).toString('hex');
    confirmations.set(token, { userId, expiresAt: now + CONFIRMATION_TTL_MS });
    return token;
  }

  /** Takes a token: valid (now used), used before, or not valid (unknown, expired, another user's). */
  function takeToken(token: string, userId: string) {
    const c = confirmations.get(token);
    if (!c || c.userId !== userId || c.expiresAt <= clock.now().getTime())
      return { kind: 'invalid' as const };
    if (c.run) return { kind: 'used' as const, run: c.run };
    let started: (runId: string | undefined) => void = () => {};
    c.run = new Promise((resolve) => (started = resolve));
    return { kind: 'valid' as const, started };
  }

  /** Whether the bot is a member of the conversation (a DM between people or a channel without it: no). */
  async function canPost(channel: string): Promise<boolean> {
    try {
      const res = await client.conversations.info({ channel });
      return res.channel?.is_member === true || res.channel?.is_im === true;
    } catch {
      return false;
    }
  }

  async function permalink(pending: Promise<Thread | undefined> | undefined): Promise<string> {
    const thread = pending ? await withTimeout(pending, 5_000) : undefined;
    if (!thread) return 'its progress is in the channel where it was started';
    try {
      const res = await client.chat.getPermalink({ channel: thread.channel, message_ts: thread.ts });
      return res.permalink ? `<${res.permalink}|see its thread>` : 'see its thread';
    } catch {
      return 'see its thread';
    }
  }

  /** The thread's root and first progress reply; undefined when neither place takes the post. */
  async function openThread(
    channels: string[],
    origin: string,
    userId: string,
    run: RetrainRun,
  ): Promise<{ thread: Thread; progressTs: string } | undefined> {
    for (const channel of channels) {
      const post = async (args: ChatPostMessageArguments) => {
        await deps.pacer.turn(args.channel);
        return waitingOutRateLimits(() => deps.poster.chat.postMessage(args));
      };
      try {
        const elsewhere = channel === origin ? '' : ' (asked for in a conversation the bot is not in)';
        const root = await post({ channel, text: `🔁 Model retrain asked for by <@${userId}>${elsewhere}` });
        const thread = { channel: root.channel as string, ts: root.ts as string };
        const progress = await post({
          channel: thread.channel,
          thread_ts: thread.ts,
          ...renderBlocks(progressReply(run)),
        });
        return { thread, progressTs: progress.ts as string };
      } catch (err) {
        deps.logger.warn(
          { run: run.id, channel, err: String(err) },
          'retrain: could not open the progress thread',
        );
        // Only a refusal proves nothing was posted: after a lost answer, no second thread elsewhere.
        if (!refusedBySlack(err)) return undefined;
      }
    }
    return undefined;
  }

  return {
    /** The slash command: a confirmation button (the command's dispatch let only ops users here). */
    async request(userId: string, respond: RespondFn): Promise<void> {
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
            value: issueToken(userId),
            style: 'primary',
            confirm: {
              title: 'Retrain the model?',
              text: 'A new model version is trained now; progress is posted in a thread (here when the bot is in this conversation, else in the feed channel).',
              confirm: 'Retrain',
              deny: 'Cancel',
            },
          },
        ],
        data: {},
      };
      await respond({ response_type: 'ephemeral', ...renderBlocks(reply) });
    },

    /** The confirmation button (another request, checked again): starts a run, or links to the one going. */
    async confirm(userId: string, channel: string, token: string, respond: RespondFn): Promise<void> {
      if (await refuse(userId, respond)) return;
      const taken = takeToken(token, userId);
      if (taken.kind !== 'valid') {
        const used = taken.kind === 'used';
        const runId = used ? await withTimeout(taken.run, 5_000) : undefined;
        access.audit({
          who: userId,
          what: 'retrain (confirm)',
          result: used
            ? `refused: confirmation already used${runId ? ` (run ${runId})` : ''}`
            : 'refused: confirmation expired or not issued to this user',
        });
        await respond({
          response_type: 'ephemeral',
          replace_original: false,
          text: used
            ? `This confirmation was already used, so nothing new was started: ${runId ? await permalink(threads.get(runId)) : 'see the retrain it started'}.`
            : 'This confirmation has expired or is not yours, so nothing was started. Type `/crypto retrain` for a new one.',
        });
        return;
      }
      // Where the progress goes is decided before anything starts.
      const here = await canPost(channel);
      const feed = await deps.feedChannel().catch(() => undefined);
      const places = here ? [channel, ...(feed && feed !== channel ? [feed] : [])] : feed ? [feed] : [];
      const { run, started } = await platform.pipeline
        .retrain({ requestedBy: userId })
        .catch((err: unknown) => {
          taken.started(undefined);
          throw err;
        });
      taken.started(run.id);
      if (!started) {
        access.audit({ who: userId, what: 'retrain (confirm)', result: `joined running run ${run.id}` });
        await respond({
          response_type: 'ephemeral',
          replace_original: false,
          text: `A retrain is already ${run.state} (asked for by ${mention(run.requested_by)} at ${formatTime(run.created_at)}): ${await permalink(threads.get(run.id))}.`,
        });
        return;
      }
      access.audit({
        who: userId,
        what: 'retrain (confirm)',
        result: `started run ${run.id}`,
        detail: { progress_channel: places[0] ?? 'none' },
      });
      // Other requests for this run wait for its thread to exist, to link to it.
      let opened: (thread: Thread | undefined) => void = () => {};
      threads.set(run.id, new Promise((resolve) => (opened = resolve)));
      let progress: { thread: Thread; progressTs: string } | undefined;
      let shown = run;
      let latest = run;
      let updates = Promise.resolve();
      /** Brings the progress reply to the latest state, one update at a time (never out of order). */
      const show = () => {
        updates = updates.then(async () => {
          if (!progress || latest.state === shown.state) return;
          shown = latest;
          await client.chat
            .update({
              channel: progress.thread.channel,
              ts: progress.progressTs,
              ...renderBlocks(progressReply(latest)),
            })
            .catch((err: unknown) =>
              deps.logger.warn(
                { run: run.id, err: String(err) },
                'retrain: could not update the progress reply',
              ),
            );
        });
        return updates;
      };
      // The run is followed to its end (and its outcome audited) whatever happens to the thread.
      const follow = followRetrain(platform, run.id, {
        pollMs: deps.pollMs,
        onChange: async (current) => {
          latest = current;
          await show();
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
        .catch((err: unknown) => {
          access.audit({
            who: userId,
            what: 'retrain',
            result: `unknown: could not follow the run (${String(err)})`,
          });
          deps.logger.error({ run: run.id, err: String(err) }, 'could not follow the retrain');
        })
        .finally(() => following.delete(follow));
      following.add(follow);
      progress = await openThread(places, channel, userId, run);
      opened(progress?.thread);
      await show();
      await respond({
        response_type: 'ephemeral',
        replace_original: true,
        text: progress
          ? `Retrain started: ${await permalink(Promise.resolve(progress.thread))}${progress.thread.channel === channel ? '' : ' (in the feed channel: the bot is not in this conversation)'}.`
          : 'Retrain started, but the bot could not post its progress anywhere: see `/crypto status` for its outcome, and invite the bot to the feed channel (`/invite @crypto-risk`).',
      });
    },

    /** Waits for the progress threads being followed (shutdown). */
    async stop(): Promise<void> {
      await Promise.all(following);
    },
  };
}

/** The promise's value, or undefined when it takes longer than `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms)),
  ]);
}

function mention(user: string): string {
  return /^[UW][A-Z0-9]+$/.test(user) ? `<@${user}>` : user;
}

/** Who asked for a run: a mention for a Slack user, else as it is ('schedule', 'command line'). */
function requester(user: string): string | Mention {
  return /^[UW][A-Z0-9]+$/.test(user) ? { user } : user;
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
      summary: ['Asked for by ', requester(run.requested_by), ` at ${formatTime(run.created_at)}.`],
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
