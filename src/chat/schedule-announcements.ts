import { scheduleChangeText } from '../commands/schedule.js';
import { formatTime } from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import { endedPauses, type ScheduleChange } from '../domain/schedules.js';
import type { Schedules } from '../jobs/schedules.js';
import { type AnnounceDeps, type Announcement, announceOnce } from './announce.js';

/** Changes older than this are not announced any more (e.g. after a long outage). */
const LOOKBACK_MS = 24 * 3_600_000;

/** 🗓️ Schedule: score paused until 2026-03-02 14:00 UTC by @user. */
export function scheduleChangeReply(change: ScheduleChange): Reply {
  return { title: '🗓️ Schedule changed', summary: scheduleChangeText(change), data: change };
}

/** 🗓️ Schedule: score resumed on its own (its pause ended at …). */
export function pauseEndedReply(pause: ScheduleChange): Reply {
  return {
    title: '🗓️ Schedule resumed',
    summary: `${pause.job} runs on its schedule again: its pause ended at ${formatTime(pause.until)}.`,
    data: pause,
  };
}

/**
 * The schedule changes not yet announced in the conversation (from chat or the command line) and
 * the timed pauses that ended, each announced once (announceOnce: reserved, posted, confirmed, so a
 * restart neither loses nor repeats one), in the order they happened.
 */
export async function announceSchedules(
  deps: AnnounceDeps & { schedules: Schedules },
  conversation: string,
): Promise<number> {
  const now = deps.clock.now();
  const since = now.getTime() - LOOKBACK_MS;
  const state = await deps.schedules.state();
  const events: Array<{ at: number; announcement: Announcement }> = [];
  for (const change of state.changes) {
    const at = Date.parse(change.at);
    if (at < since) continue;
    events.push({
      at,
      announcement: {
        key: `schedule|${change.id}`,
        subject: change.job,
        reply: scheduleChangeReply(change),
        payload: { schedule_change: change.id, job: change.job, action: change.action },
      },
    });
  }
  for (const pause of endedPauses(state, now)) {
    const at = Date.parse(pause.until as string);
    if (at < since) continue;
    events.push({
      at,
      announcement: {
        key: `schedule|${pause.id}|ended`,
        subject: pause.job,
        reply: pauseEndedReply(pause),
        payload: { schedule_change: pause.id, job: pause.job, action: 'pause ended' },
      },
    });
  }
  events.sort((a, b) => a.at - b.at);
  return announceOnce(
    deps,
    conversation,
    events.map((e) => e.announcement),
  );
}
