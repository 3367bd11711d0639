import type { Clock } from '../clock.js';
import type { LabelCounts, LabelValue } from '../domain/labels.js';
import type { Action, Reply } from '../domain/reply.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Platform } from '../platform/port.js';
import type { DeliveryLog } from './delivery-log.js';
import type { MessageRef } from './port.js';

/**
 * Feedback from the channel, written once for every chat platform: each feed message has a
 * "👍 Real" and a "👎 Noise" button (anyone may press them, not an ops action). A press labels
 * every window of that message for that person, replacing their earlier label, and the message is
 * updated in place with the counts. Slack and Teams only turn the click into `label`.
 */

export const LABEL_REAL = 'label_real';
export const LABEL_NOISE = 'label_noise';

const NOT_A_FEED_MESSAGE =
  'This button does not belong to a feed message the bot knows, so nothing was recorded. Label the anomaly from its message in the feed channel.';
const DELIVERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The label a button stands for; undefined for any other action. */
export function labelOf(actionId: string): LabelValue | undefined {
  if (actionId === LABEL_REAL) return 'real';
  if (actionId === LABEL_NOISE) return 'noise';
  return undefined;
}

/** A feed message's reply with its label counts and the two buttons (value: the delivery id). */
export function withLabels(reply: Reply, deliveryId: string, counts: LabelCounts | undefined): Reply {
  const buttons: Action[] = [
    { id: LABEL_REAL, label: '👍 Real', value: deliveryId },
    { id: LABEL_NOISE, label: '👎 Noise', value: deliveryId },
  ];
  return {
    ...reply,
    fields: [...(reply.fields ?? []), { label: 'Labels', value: describeCounts(counts) }],
    actions: [...(reply.actions ?? []), ...buttons],
  };
}

/** "2 real, 1 noise (from 3 people)"; without counts (a platform that does not read them back), what is known. */
export function describeCounts(counts: LabelCounts | undefined): string {
  // Databricks reads the labels table only while its SQL warehouse runs (it is never started for this).
  if (!counts) return 'is it real? (labels are recorded; their counts show while the SQL warehouse runs)';
  if (counts.people === 0) return 'none yet — is it real?';
  return `${counts.real} real, ${counts.noise} noise (from ${counts.people} ${counts.people === 1 ? 'person' : 'people'})`;
}

export interface LabelFlowDeps {
  platform: Platform;
  log: DeliveryLog;
  clock: Clock;
  logger: Logger;
  /** Rebuilds a feed message with its current labels and updates it in place (Feed.refresh). */
  refresh(deliveryId: string): Promise<Reply | undefined>;
}

export function createLabelFlow(deps: LabelFlowDeps) {
  // One label at a time per message: each update then shows the counts after every earlier click.
  const queues = new Map<string, Promise<unknown>>();
  const serially = <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const run = (queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(work);
    const settled = run.finally(() => {
      if (queues.get(key) === settled) queues.delete(key);
    });
    queues.set(key, settled);
    return run;
  };

  return {
    /**
     * Records `user`'s label of every window of the message `deliveryId` and updates the message;
     * returns what it shows now (undefined when it was deleted from the conversation). `from`, the
     * message the click came from, must be that message. Anything else is refused before a write.
     */
    async label(
      deliveryId: string,
      user: string,
      value: LabelValue,
      from?: MessageRef,
    ): Promise<Reply | undefined> {
      const message = DELIVERY_ID.test(deliveryId) ? await deps.log.message(deliveryId) : undefined;
      const elsewhere =
        from !== undefined && (from.conversation !== message?.channel || from.id !== message?.message_ts);
      if (message?.state !== 'posted' || !message.message_ts || elsewhere) {
        deps.logger.warn(
          { delivery_id: deliveryId.slice(0, 64), user },
          'labels: refused a label for an unknown message',
        );
        throw new UserError(NOT_A_FEED_MESSAGE);
      }
      return serially(deliveryId, async () => {
        const windows = await deps.log.windowsOf(deliveryId);
        if (windows.length === 0) throw new UserError(NOT_A_FEED_MESSAGE);
        const at = deps.clock.now().toISOString();
        await deps.platform.pipeline.recordLabels(
          windows.map((w) => ({
            asset: w.asset,
            window_end: w.window_end,
            user,
            label: value,
            model_version: w.model_version,
            labelled_at: at,
          })),
        );
        deps.logger.info(
          { delivery_id: deliveryId, user, label: value, windows: windows.length },
          'labels: recorded',
        );
        return deps.refresh(deliveryId);
      });
    },
  };
}

export type LabelFlow = ReturnType<typeof createLabelFlow>;
