import type { Clock } from '../clock.js';
import type { Reply } from '../domain/reply.js';
import type { Logger } from '../log.js';
import type { Platform, QuarantinedFile } from '../platform/port.js';
import type { DeliveryLog } from './delivery-log.js';
import { type Envelope, type FeedOutlet, NotPosted } from './port.js';

export interface IncidentDeps {
  platform: Platform;
  outlet: FeedOutlet;
  log: DeliveryLog;
  clock: Clock;
  logger: Logger;
}

/**
 * Announces every quarantined landing file once in the feed's conversation, as a data incident.
 * An announcement is reserved in the delivery log before it is posted and confirmed after; one
 * left pending (a crash or a lost answer in between) is looked up by the platform before it is
 * posted again (Slack finds it by its metadata; where that cannot be done it goes out again), so a
 * restart never loses it. A file retried and quarantined again is a new incident (its key carries
 * the quarantine time).
 */
export async function announceQuarantined(deps: IncidentDeps, conversation: string): Promise<number> {
  const { log, logger, outlet } = deps;
  // Only the embedded pipeline quarantines landing files (platform/capabilities.ts).
  const files = deps.platform.engine ? await deps.platform.engine.quarantined() : [];
  if (files.length === 0) return 0;
  const known = await log.incidents(conversation);
  const todo = files.filter((f) => known.get(incidentKey(f)) !== 'posted');
  if (todo.length === 0) return 0;
  const pending = todo.filter((f) => known.get(incidentKey(f)) === 'pending');
  const found =
    pending.length > 0
      ? await outlet.findPosted(conversation, 'incident', new Set(pending.map(incidentKey)))
      : new Map<string, string>();
  let posted = 0;
  // Oldest first, as they happened.
  for (const file of [...todo].reverse()) {
    const incident = incidentKey(file);
    const messageId = found.get(incident);
    if (messageId) {
      await log.incidentPosted(conversation, incident, messageId, deps.clock.now());
      continue;
    }
    if (!known.has(incident)) await log.reserveIncident(conversation, incident, file.file, deps.clock.now());
    try {
      const id = await outlet.post(conversation, incidentReply(file), incidentEnvelope(incident, file));
      await log.incidentPosted(conversation, incident, id, deps.clock.now());
      posted++;
      logger.info({ file: file.file, ts: id }, 'feed: announced a quarantined landing file');
    } catch (err) {
      // Refused: it never went out, so it may go out next cycle. Otherwise it may have gone out:
      // the reservation stays and the next cycle looks for it first.
      if (err instanceof NotPosted) await log.releaseIncident(conversation, incident);
      throw err;
    }
  }
  return posted;
}

/** The incident as a reply: what happened, that the pipeline carries on, and what ops can do. */
export function incidentReply(file: QuarantinedFile): Reply {
  return {
    title: '⚠️ Data incident: a landing file was quarantined',
    summary: `Landing file ${file.file} was quarantined after ${file.attempts} failed pipeline run(s): ${file.reason}. The pipeline carries on with the next files.`,
    notes: [`Ops: fix the file, then \`crypto-risk quarantine retry ${file.file}\`.`],
    data: file,
  };
}

/** The envelope of an incident: its key and the file (Slack's announcement text is made from it). */
function incidentEnvelope(incident: string, file: QuarantinedFile): Envelope {
  return {
    kind: 'incident',
    key: incident,
    payload: { incident, file: file.file, attempts: file.attempts, reason: file.reason },
  };
}

function incidentKey(file: QuarantinedFile): string {
  return `${file.file}|${file.quarantined_at ?? ''}`;
}
