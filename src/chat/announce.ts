import type { Clock } from '../clock.js';
import type { Reply } from '../domain/reply.js';
import type { Logger } from '../log.js';
import type { DeliveryLog } from './delivery-log.js';
import { type Envelope, type FeedOutlet, NotPosted } from './port.js';

/** One announcement for the feed's conversation: its key (once per conversation) and what it says. */
export interface Announcement {
  /** Unique and stable: the same event always makes the same key. */
  key: string;
  /** A short subject for the store (a file, an asset). */
  subject: string;
  reply: Reply;
  /** Machine-readable fields carried with the message where the platform can (Slack metadata). */
  payload: Record<string, unknown>;
}

export interface AnnounceDeps {
  outlet: FeedOutlet;
  log: DeliveryLog;
  clock: Clock;
  logger: Logger;
}

/**
 * Posts each announcement once in the conversation, in the order given (data incidents, their
 * recoveries, silences). Each is reserved in the delivery log before it is posted and confirmed
 * after; one left pending (a crash or a lost answer in between) is looked up by the platform before
 * it is posted again (Slack finds it by its metadata; where that cannot be done it goes out again),
 * so a restart never loses it nor, where it can be looked up, repeats it. A refused post is
 * released, so it goes out on the next cycle. Returns how many were posted.
 */
export async function announceOnce(
  deps: AnnounceDeps,
  conversation: string,
  announcements: readonly Announcement[],
): Promise<number> {
  const { log, logger, outlet } = deps;
  if (announcements.length === 0) return 0;
  const known = await log.incidents(conversation);
  const todo = announcements.filter((a) => known.get(a.key) !== 'posted');
  if (todo.length === 0) return 0;
  const pending = todo.filter((a) => known.get(a.key) === 'pending');
  const found =
    pending.length > 0
      ? await outlet.findPosted(conversation, 'incident', new Set(pending.map((a) => a.key)))
      : new Map<string, string>();
  let posted = 0;
  for (const a of todo) {
    const messageId = found.get(a.key);
    if (messageId) {
      await log.incidentPosted(conversation, a.key, messageId, deps.clock.now());
      continue;
    }
    if (!known.has(a.key)) await log.reserveIncident(conversation, a.key, a.subject, deps.clock.now());
    const envelope: Envelope = { kind: 'incident', key: a.key, payload: { incident: a.key, ...a.payload } };
    try {
      const id = await outlet.post(conversation, a.reply, envelope);
      await log.incidentPosted(conversation, a.key, id, deps.clock.now());
      posted++;
      logger.info({ key: a.key, ts: id }, 'feed: posted an announcement');
    } catch (err) {
      // Refused: it never went out, so it may go out next cycle. Otherwise it may have gone out:
      // the reservation stays and the next cycle looks for it first.
      if (err instanceof NotPosted) await log.releaseIncident(conversation, a.key);
      throw err;
    }
  }
  return posted;
}
