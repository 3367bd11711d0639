import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { SCHEDULE_REFUSAL } from '../commands/registry.js';
import { requestText, scheduleChangedReply, schedulePreviewReply } from '../commands/schedule.js';
import type { Reply } from '../domain/reply.js';
import { UserError } from '../errors.js';
import { nextRuns, type ScheduleRequest, type Schedules } from '../jobs/schedules.js';
import type { Access } from './access.js';

/** The action id (Slack) or verb (Teams Action.Execute) of a schedule change's confirmation. */
export const SCHEDULE_CONFIRM = 'schedule_confirm';

/** How long a confirmation can be pressed. */
const CONFIRMATION_TTL_MS = 15 * 60_000;

/**
 * A schedule change from chat, written once for every chat platform: the command (which only ops
 * users reach) answers with a preview of the change and a one-shot confirmation; the confirmation,
 * checked again (ops, the same person, not expired, not used), makes it. Every step is an audit
 * line; the feed channel is told by the feed (schedule-announcements.ts), once.
 */
export function createScheduleFlow(deps: { schedules: Schedules; access: Access; clock: Clock }) {
  const { schedules, access, clock } = deps;
  const pending = new Map<string, { userId: string; request: ScheduleRequest; expiresAt: number }>();

  return {
    /** The command's answer: what the change makes of the job, and its confirmation. */
    async ask(userId: string, request: ScheduleRequest): Promise<Reply> {
      const what = `schedule ${requestText(request)}`;
      let preview: Awaited<ReturnType<Schedules['check']>>;
      try {
        preview = await schedules.check(request);
      } catch (err) {
        if (err instanceof UserError) access.audit({ who: userId, what, result: `refused: ${err.message}` });
        throw err;
      }
      const now = clock.now().getTime();
      for (const [t, p] of pending) if (p.expiresAt <= now) pending.delete(t);
      const token = randomBytes(16).toString('hex');
      pending.set(token, { userId, request, expiresAt: now + CONFIRMATION_TTL_MS });
      const reply = schedulePreviewReply(request, preview.after, preview.next);
      return {
        ...reply,
        actions: [
          {
            id: SCHEDULE_CONFIRM,
            label: 'Confirm',
            value: token,
            style: request.action === 'pause' ? 'danger' : 'primary',
          },
        ],
      };
    },

    /** The confirmation: the change made, or why not (then nothing changed). */
    async confirm(userId: string, token: string): Promise<Reply> {
      const p = pending.get(token);
      const what = p ? `schedule ${requestText(p.request)}` : 'schedule (confirm)';
      if (!(await access.isOps(userId))) {
        access.audit({ who: userId, what, result: 'refused: not an ops user' });
        return { title: 'Not changed', summary: SCHEDULE_REFUSAL, data: {} };
      }
      if (!p || p.userId !== userId || p.expiresAt <= clock.now().getTime()) {
        access.audit({
          who: userId,
          what,
          result: 'refused: confirmation used, expired or not issued to this user',
        });
        return {
          title: 'Not changed',
          summary:
            'This confirmation was used already, has expired or is not yours, so nothing changed. Ask `schedule …` again for a new one.',
          data: {},
        };
      }
      pending.delete(token);
      try {
        const { change, after, note } = await schedules.change(p.request, userId);
        access.audit({ who: userId, what, result: `done: ${change.id}${note ? ` (${note})` : ''}` });
        return scheduleChangedReply(change, after, after.paused ? [] : nextRuns(after.cron, 3), note);
      } catch (err) {
        access.audit({
          who: userId,
          what,
          result: `failed: ${err instanceof Error ? err.message : String(err)}`,
        });
        throw err;
      }
    },
  };
}

export type ScheduleFlow = ReturnType<typeof createScheduleFlow>;

/** The `schedule <verb>` flow of a surface: its confirmation, or a sentence where it has none. */
export function askSchedule(
  flow: ScheduleFlow | undefined,
  userId: string,
  request: ScheduleRequest,
): Promise<Reply> {
  if (!flow) return Promise.reject(new UserError('Schedules cannot be changed from this bot.'));
  return flow.ask(userId, request);
}
