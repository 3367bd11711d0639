import type { Client as ApiClient } from '@microsoft/teams.api';
import type { MessageRef, ProgressOutlet } from '../chat/port.js';
import type { Reply } from '../domain/reply.js';
import type { Logger } from '../log.js';
import type { CardMessages } from './card-message.js';
import { describeFailure, paced } from './connector-calls.js';
import { type ConversationPacer, sleep } from './pacing.js';

/**
 * A retrain's progress on Teams: the confirmation card that was clicked, updated in place (Universal
 * Actions: the bot answers the Action.Execute with a card, then replaces the message with
 * `PUT /v3/conversations/{id}/activities/{replyToId}`, "Update and delete messages sent from your
 * bot"), queued → running → the outcome with the champion comparison. When the card cannot be
 * updated (deleted meanwhile), the progress goes to a new card in the same conversation.
 * One outlet per click: `card` is the clicked message.
 */
export function createTeamsProgressOutlet(deps: {
  card: MessageRef;
  api: ApiClient;
  messages: CardMessages;
  pacer: ConversationPacer;
  logger: Logger;
  /** Called once the card shows the run (so the bot no longer answers on the card itself). */
  onOpened?: (ref: MessageRef) => void;
}): ProgressOutlet {
  const { api, messages, pacer } = deps;
  const put = async (ref: MessageRef, reply: Reply) => {
    const message = await messages.message(reply);
    await paced(
      pacer,
      ref.conversation,
      'the progress card update',
      () => api.conversations.updateActivity(ref.conversation, ref.id, message),
      sleep,
    );
  };
  return {
    async places(origin) {
      return [origin];
    },
    async open(_places, _origin, _userId, reply) {
      try {
        await put(deps.card, reply);
        deps.onOpened?.(deps.card);
        return deps.card;
      } catch (err) {
        deps.logger.warn(
          { conversation: deps.card.conversation, err: describeFailure(err) },
          'teams: could not update the confirmation card; the progress goes to a new card',
        );
      }
      const message = await messages.message(reply);
      const sent = await paced(
        pacer,
        deps.card.conversation,
        'the progress card',
        () => api.conversations.createActivity(deps.card.conversation, message),
        sleep,
      );
      if (!sent?.id) return undefined;
      const ref = { conversation: deps.card.conversation, id: sent.id };
      deps.onOpened?.(ref);
      return ref;
    },
    update: put,
    async link(ref) {
      return ref ? 'the card above shows its progress' : 'its card in this conversation shows its progress';
    },
    nowhere:
      'The retrain started, but its progress card could not be shown here; `status` tells how it goes and `models` shows the new version when it is done.',
  };
}
