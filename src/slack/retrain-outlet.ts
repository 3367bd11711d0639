import type { WebClient } from '@slack/web-api';
import type { ProgressOutlet } from '../chat/port.js';
import type { Logger } from '../log.js';
import { renderBlocks } from '../render/blocks.js';
import { type ChannelPacer, refusedBySlack, waitingOutRateLimits } from './web-calls.js';

export interface SlackProgressDeps {
  client: WebClient;
  /** Posts the thread: a client that never retries a post blindly and refuses on 429 (waited out here). */
  poster: WebClient;
  /** Spaces the bot's posts to each channel (shared with the feed). */
  pacer: ChannelPacer;
  /** The feed channel's id: progress goes there when the bot cannot post where retrain was asked. */
  feedChannel(): Promise<string>;
  logger: Logger;
}

/**
 * A retrain's progress in Slack: a thread whose root names the requester and whose first reply is
 * updated in place. `chat:write` covers only conversations the bot is in, and `/crypto retrain` can
 * be typed anywhere (a channel without the bot, a DM between people), so the thread goes to the
 * channel when the bot is a member, else to the feed channel, linked back to the requester.
 */
export function createSlackProgress(deps: SlackProgressDeps): ProgressOutlet {
  const { client } = deps;

  /** Whether the bot is a member of the conversation (a DM between people or a channel without it: no). */
  async function canPost(channel: string): Promise<boolean> {
    try {
      const res = await client.conversations.info({ channel });
      return res.channel?.is_member === true || res.channel?.is_im === true;
    } catch {
      return false;
    }
  }

  return {
    async places(origin) {
      const here = await canPost(origin);
      const feed = await deps.feedChannel().catch(() => undefined);
      return here ? [origin, ...(feed && feed !== origin ? [feed] : [])] : feed ? [feed] : [];
    },

    /** The thread's root, and its first reply (the one updated); a lost answer tries no other place. */
    async open(places, origin, userId, reply) {
      for (const channel of places) {
        const post = async (args: Parameters<WebClient['chat']['postMessage']>[0]) => {
          await deps.pacer.turn(args.channel);
          return waitingOutRateLimits(() => deps.poster.chat.postMessage(args));
        };
        try {
          const elsewhere = channel === origin ? '' : ' (asked for in a conversation the bot is not in)';
          const root = await post({
            channel,
            text: `🔁 Model retrain asked for by <@${userId}>${elsewhere}`,
          });
          const thread = { channel: root.channel as string, ts: root.ts as string };
          const progress = await post({
            channel: thread.channel,
            thread_ts: thread.ts,
            ...renderBlocks(reply),
          });
          return { conversation: thread.channel, id: progress.ts as string, thread: thread.ts };
        } catch (err) {
          deps.logger.warn({ channel, err: String(err) }, 'retrain: could not open the progress thread');
          // Only a refusal proves nothing was posted: after a lost answer, no second thread elsewhere.
          if (!refusedBySlack(err)) return undefined;
        }
      }
      return undefined;
    },

    async update(ref, reply) {
      await client.chat.update({ channel: ref.conversation, ts: ref.id, ...renderBlocks(reply) });
    },

    async link(ref) {
      if (!ref) return 'its progress is in the channel where it was started';
      const thread = ref.thread ?? ref.id;
      try {
        const res = await client.chat.getPermalink({ channel: ref.conversation, message_ts: thread });
        return res.permalink ? `<${res.permalink}|see its thread>` : 'see its thread';
      } catch {
        return 'see its thread';
      }
    },

    nowhere:
      'Retrain started, but the bot could not post its progress anywhere: see `/crypto status` for its outcome, and invite the bot to the feed channel (`/invite @crypto-risk`).',
  };
}
