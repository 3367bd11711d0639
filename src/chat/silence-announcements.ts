import { ALL_ASSETS, endOf, type Silence, type Silences, silenceSubject } from '../commands/silences.js';
import { formatTime } from '../domain/format.js';
import type { Reply } from '../domain/reply.js';
import { type AnnounceDeps, type Announcement, announceOnce } from './announce.js';

/** Silences over longer ago than this are not announced any more (e.g. after a long outage). */
const LOOKBACK_MS = 24 * 3_600_000;

/** 🔕 Muted: bitcoin muted until 2026-03-02 14:00 UTC by @user: reason. */
export function silenceStartReply(s: Silence): Reply {
  const subject = silenceSubject(s.asset);
  return {
    title: '🔕 Muted',
    summary: [
      `${subject} muted until ${formatTime(s.ends_at)} by `,
      { user: s.created_by },
      s.reason ? `: ${s.reason}` : '.',
    ],
    notes: [
      `Until then ${s.asset === ALL_ASSETS ? 'anomalies' : `${subject}'s anomalies`} are still scored and listed by top, but not posted here.`,
    ],
    data: s,
  };
}

/** 🔔 Unmuted: bitcoin unmuted (expired, or by @user). */
export function silenceEndReply(s: Silence): Reply {
  const subject = silenceSubject(s.asset);
  return {
    title: '🔔 Unmuted',
    summary: s.ended_by
      ? [`${subject} unmuted by `, { user: s.ended_by }, '.']
      : `${subject} unmuted (expired at ${formatTime(s.ends_at)}).`,
    notes: ['New anomalies are posted here again.'],
    data: s,
  };
}

/**
 * The starts and ends of silences not yet announced in the conversation, each announced once
 * (announceOnce: reserved, posted, confirmed, so a restart neither loses nor repeats one), in the
 * order they happened. A silence ends when it is unmuted or when its time is up.
 */
export async function announceSilences(
  deps: AnnounceDeps & { silences: Silences },
  conversation: string,
): Promise<number> {
  const now = deps.clock.now();
  const list = await deps.silences.since(new Date(now.getTime() - LOOKBACK_MS));
  const events: Array<{ at: number; announcement: Announcement }> = [];
  for (const s of list) {
    const payload = { silence: s.id, asset: s.asset, starts_at: s.starts_at, ends_at: s.ends_at };
    events.push({
      at: Date.parse(s.starts_at),
      announcement: { key: `silence|${s.id}|start`, subject: s.asset, reply: silenceStartReply(s), payload },
    });
    const end = Date.parse(endOf(s));
    if (end <= now.getTime()) {
      events.push({
        at: end,
        announcement: {
          key: `silence|${s.id}|end`,
          subject: s.asset,
          reply: silenceEndReply(s),
          payload: { ...payload, ended_at: endOf(s), ended_by: s.ended_by },
        },
      });
    }
  }
  events.sort((a, b) => a.at - b.at);
  return announceOnce(
    deps,
    conversation,
    events.map((e) => e.announcement),
  );
}
