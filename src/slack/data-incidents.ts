import type { WebClient } from '@slack/web-api';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Platform, QuarantinedFile } from '../platform/port.js';
import { escapeMrkdwn } from '../render/blocks.js';
import type { DeliveryLog } from './delivery-log.js';
import { type ChannelPacer, refusedBySlack, retryAfterSeconds, waitingOutRateLimits } from './web-calls.js';

/** The Slack message metadata type of data-incident messages (looked up after a restart). */
export const INCIDENT_EVENT_TYPE = 'crypto_data_incident';
/** Messages read when looking for an announcement a crash may have interrupted. */
const HISTORY_PAGE = 200;

export interface IncidentDeps {
  platform: Platform;
  client: WebClient;
  log: DeliveryLog;
  pacer: ChannelPacer;
  clock: Clock;
  logger: Logger;
}

/**
 * Announces every quarantined landing file once in the feed channel, as a data incident. An
 * announcement is reserved in the delivery log before it is posted and confirmed after; one left
 * pending (a crash or a lost answer in between) is looked up in the channel by its metadata before
 * it is posted again, so a restart neither repeats nor loses it. A file retried and quarantined
 * again is a new incident (its key carries the quarantine time).
 */
export async function announceQuarantined(deps: IncidentDeps, channel: string): Promise<number> {
  const { log, logger } = deps;
  // Only the embedded pipeline quarantines landing files (platform/capabilities.ts).
  const files = deps.platform.engine ? await deps.platform.engine.quarantined() : [];
  if (files.length === 0) return 0;
  const known = await log.incidents(channel);
  const todo = files.filter((f) => known.get(incidentKey(f)) !== 'posted');
  if (todo.length === 0) return 0;
  const pending = todo.filter((f) => known.get(incidentKey(f)) === 'pending');
  const found =
    pending.length > 0
      ? await findPosted(deps, channel, new Set(pending.map(incidentKey)))
      : new Map<string, string>();
  let posted = 0;
  // Oldest first, as they happened.
  for (const file of [...todo].reverse()) {
    const incident = incidentKey(file);
    const ts = found.get(incident);
    if (ts) {
      await log.incidentPosted(channel, incident, ts, deps.clock.now());
      continue;
    }
    if (!known.has(incident)) await log.reserveIncident(channel, incident, file.file, deps.clock.now());
    await deps.pacer.turn(channel);
    try {
      const answer = await waitingOutRateLimits(() =>
        deps.client.chat.postMessage({
          channel,
          text: incidentText(file),
          metadata: { event_type: INCIDENT_EVENT_TYPE, event_payload: { incident, file: file.file } },
        }),
      );
      await log.incidentPosted(channel, incident, answer.ts as string, deps.clock.now());
      posted++;
      logger.info({ file: file.file, ts: answer.ts }, 'feed: announced a quarantined landing file');
    } catch (err) {
      // Refused: it never went out, so it may go out next cycle. Otherwise it may have gone out:
      // the reservation stays and the next cycle looks for it in the channel first.
      if (refusedBySlack(err) || retryAfterSeconds(err) !== undefined)
        await log.releaseIncident(channel, incident);
      throw err;
    }
  }
  return posted;
}

/**
 * The announcement: what happened, that the pipeline carries on, and what ops can do. The file's
 * name and the reason are escaped: whatever lands there can never mention or link in the channel.
 */
export function incidentText(file: QuarantinedFile): string {
  const name = escapeMrkdwn(file.file);
  return (
    `:warning: Data incident: landing file \`${name}\` was quarantined after ${file.attempts} failed ` +
    `pipeline run(s): ${escapeMrkdwn(file.reason)}. The pipeline carries on with the next files. ` +
    `Ops: fix the file, then \`crypto-risk quarantine retry ${name}\`.`
  );
}

function incidentKey(file: QuarantinedFile): string {
  return `${file.file}|${file.quarantined_at ?? ''}`;
}

/** Announcements among `wanted` that are in the channel already (posted before a crash). */
async function findPosted(
  deps: IncidentDeps,
  channel: string,
  wanted: Set<string>,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const page = await waitingOutRateLimits(() =>
    deps.client.conversations.history({ channel, limit: HISTORY_PAGE, include_all_metadata: true }),
  );
  for (const m of page.messages ?? []) {
    const incident = (m.metadata?.event_payload as { incident?: unknown } | undefined)?.incident;
    if (
      m.metadata?.event_type === INCIDENT_EVENT_TYPE &&
      typeof incident === 'string' &&
      wanted.has(incident) &&
      m.ts
    ) {
      found.set(incident, m.ts);
    }
  }
  return found;
}
