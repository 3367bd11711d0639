import type { Client as ApiClient } from '@microsoft/teams.api';
import { type FeedOutlet, NotPosted } from '../chat/port.js';
import { UserError } from '../errors.js';
import type { CardMessages } from './card-message.js';
import { httpStatus, paced } from './connector-calls.js';
import type { ConversationStore } from './conversations.js';
import { type ConversationPacer, sleep } from './pacing.js';

/**
 * The anomaly feed's side on Teams: proactive messages to the feed's conversation (Teams "Send
 * proactive messages": `POST {serviceUrl}/v3/conversations/{conversationId}/activities` with the
 * bot's token), one Adaptive Card each, its chart by URL; a re-score replaces the card in place
 * ("Update and delete messages sent from your bot": `PUT …/activities/{activityId}`). Every call
 * is paced to Teams' per-conversation limits and waits out 429s (connector-calls.ts).
 */
export function createTeamsFeedOutlet(deps: {
  /** TEAMS_FEED_CONVERSATION, when set: it wins over the conversation recorded at installation. */
  feedConversation?: string;
  /** Where to send to a conversation the bot has no record of (TEAMS_SERVICE_URL). */
  defaultServiceUrl: string;
  conversations: ConversationStore;
  api: (serviceUrl: string) => ApiClient;
  messages: CardMessages;
  pacer: ConversationPacer;
}): FeedOutlet {
  const client = async (conversation: string) =>
    deps.api((await deps.conversations.serviceUrlOf(conversation)) ?? deps.defaultServiceUrl);
  return {
    platform: 'teams',
    async destination() {
      if (deps.feedConversation) return deps.feedConversation;
      const installed = await deps.conversations.latest();
      if (installed) return installed.conversationId;
      throw new UserError(
        'The Teams feed has nowhere to post: install the app in a team channel or set TEAMS_FEED_CONVERSATION.',
      );
    },
    async post(conversation, reply) {
      const message = await deps.messages.message(reply);
      const api = await client(conversation);
      const sent = await paced(
        deps.pacer,
        conversation,
        'the feed message',
        () => api.conversations.createActivity(conversation, message),
        sleep,
      );
      if (!sent?.id) throw new Error('Teams accepted the feed message without naming its id');
      return sent.id;
    },
    async update(ref, reply) {
      const message = await deps.messages.message(reply);
      const api = await client(ref.conversation);
      try {
        await paced(
          deps.pacer,
          ref.conversation,
          'the feed message update',
          () => api.conversations.updateActivity(ref.conversation, ref.id, message),
          sleep,
        );
        return true;
      } catch (err) {
        // Gone: deleted in the conversation (the connector answers 404 for an unknown activity).
        if (err instanceof NotPosted && httpStatus(err.cause) === 404) return false;
        throw err;
      }
    },
    // Teams messages carry no metadata the bot could look them up by, and the connector cannot list
    // a conversation's messages for it: a post whose answer was lost is sent again (at least once,
    // never lost), as the port allows.
    async findPosted() {
      return new Map<string, string>();
    },
    async stop() {},
  };
}
