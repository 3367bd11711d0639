import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { labelsTable, versionsTable } from '../commands/models.js';
import { RETRAIN_REFUSAL } from '../commands/registry.js';
import { formatTime } from '../domain/format.js';
import type { Mention, Reply } from '../domain/reply.js';
import { followRetrain } from '../jobs/retrain.js';
import type { Logger } from '../log.js';
import type { Platform, RetrainRun } from '../platform/port.js';
import type { Access } from './access.js';
import type { MessageRef, ProgressOutlet, Respond } from './port.js';

/** The action id (Slack) or verb (Teams Action.Execute) of the retrain confirmation. */
export const RETRAIN_CONFIRM = 'retrain_confirm';

/** How long a confirmation button can be pressed. */
const CONFIRMATION_TTL_MS = 15 * 60_000;

export interface RetrainFlowDeps {
  platform: Platform;
  access: Access;
  clock: Clock;
  logger: Logger;
  /** How often a running retrain's state is read. */
  pollMs: number;
}

/**
 * `retrain`, an ops action, written once for every chat platform: a confirmation first; then
 * training starts and its progress is shown in one message updated in place (queued → running →
 * succeeded or failed) ending with the new version's metrics beside the champion's. While a run
 * goes, another request links to it instead of starting a second one (the platform runs one at a
 * time, shared with the schedule and every chat platform). Everyone else is refused before any
 * platform call (the command by its dispatch, the confirmation here); every step is an audit line.
 *
 * A confirmation is honoured once: it carries a one-shot token, consumed on use, so a replayed or
 * crafted click is refused. Where the progress goes is the chat platform's (ProgressOutlet),
 * decided before the run starts.
 */
export function createRetrainFlow(deps: RetrainFlowDeps) {
  const { platform, access, clock } = deps;
  /** The progress message of each run started here; set before it exists, resolved once it does. */
  const progressOf = new Map<string, Promise<MessageRef | undefined>>();
  const following = new Set<Promise<void>>();
  /**
   * Confirmation tokens: who may confirm, until when, and once used the run it started (kept until
   * it expires, so a second confirmation can say where that run is).
   */
  const confirmations = new Map<
    string,
    { userId: string; expiresAt: number; run?: Promise<string | undefined> }
  >();

  async function refuse(userId: string, respond: Respond): Promise<boolean> {
    if (await access.isOps(userId)) return false;
    access.audit({ who: userId, what: 'retrain (confirm)', result: 'refused: not an ops user' });
    await respond(RETRAIN_REFUSAL);
    return true;
  }

  /** A new one-shot token for a confirmation shown to this user. */
  function issueToken(userId: string): string {
    const now = clock.now().getTime();
    for (const [token, c] of confirmations) if (c.expiresAt <= now) confirmations.delete(token);
    const token = randomBytes(16).toString('hex');
    confirmations.set(token, { userId, expiresAt: now + CONFIRMATION_TTL_MS });
    return token;
  }

  /** Takes a token: valid (now used), used before, or not valid (unknown, expired, another user's). */
  function takeToken(token: string, userId: string) {
    const c = confirmations.get(token);
    if (!c || c.userId !== userId || c.expiresAt <= clock.now().getTime())
      return { kind: 'invalid' as const };
    if (c.run) return { kind: 'used' as const, run: c.run };
    let started: (runId: string | undefined) => void = () => {};
    c.run = new Promise((resolve) => (started = resolve));
    return { kind: 'valid' as const, started };
  }

  /** Where a run's progress is, waiting a little for its message to exist. */
  async function linkTo(progress: ProgressOutlet, runId: string | undefined): Promise<string> {
    const pending = runId ? progressOf.get(runId) : undefined;
    return progress.link(pending ? await withTimeout(pending, 5_000) : undefined);
  }

  return {
    /** The command: a confirmation (the command's dispatch let only ops users here). */
    async request(userId: string, respond: Respond): Promise<void> {
      access.audit({ who: userId, what: 'retrain (request)', result: 'asked to confirm' });
      await respond(confirmationReply(issueToken(userId)));
    },

    /**
     * The confirmation (another request, checked again): starts a run, or links to the one going.
     * `origin` is the conversation it was confirmed in; `progress` shows the run there.
     */
    async confirm(
      userId: string,
      origin: string,
      token: string,
      respond: Respond,
      progress: ProgressOutlet,
    ): Promise<void> {
      if (await refuse(userId, respond)) return;
      const taken = takeToken(token, userId);
      if (taken.kind !== 'valid') {
        const used = taken.kind === 'used';
        const runId = used ? await withTimeout(taken.run, 5_000) : undefined;
        access.audit({
          who: userId,
          what: 'retrain (confirm)',
          result: used
            ? `refused: confirmation already used${runId ? ` (run ${runId})` : ''}`
            : 'refused: confirmation expired or not issued to this user',
        });
        await respond(
          used
            ? `This confirmation was already used, so nothing new was started: ${runId ? await linkTo(progress, runId) : 'see the retrain it started'}.`
            : 'This confirmation has expired or is not yours, so nothing was started. Type `/crypto retrain` for a new one.',
        );
        return;
      }
      // Where the progress goes is decided before anything starts.
      const places = await progress.places(origin);
      const { run, started } = await platform.pipeline
        .retrain({ requestedBy: userId })
        .catch((err: unknown) => {
          taken.started(undefined);
          throw err;
        });
      taken.started(run.id);
      if (!started) {
        access.audit({ who: userId, what: 'retrain (confirm)', result: `joined running run ${run.id}` });
        await respond(
          `A retrain is already ${run.state} (asked for by ${mention(run.requested_by)} at ${formatTime(run.created_at)}): ${await linkTo(progress, run.id)}.`,
        );
        return;
      }
      access.audit({
        who: userId,
        what: 'retrain (confirm)',
        result: `started run ${run.id}`,
        detail: { progress_channel: places[0] ?? 'none' },
      });
      // Other requests for this run wait for its progress message to exist, to link to it.
      let opened: (ref: MessageRef | undefined) => void = () => {};
      progressOf.set(run.id, new Promise((resolve) => (opened = resolve)));
      let ref: MessageRef | undefined;
      let shown = run;
      let latest = run;
      let updates = Promise.resolve();
      /** Brings the progress message to the latest state, one update at a time (never out of order). */
      const show = () => {
        updates = updates.then(async () => {
          if (!ref || latest.state === shown.state) return;
          shown = latest;
          await progress
            .update(ref, progressReply(latest))
            .catch((err: unknown) =>
              deps.logger.warn(
                { run: run.id, err: String(err) },
                'retrain: could not update the progress reply',
              ),
            );
        });
        return updates;
      };
      // The run is followed to its end (and its outcome audited) whatever happens to the message.
      const follow = followRetrain(platform, run.id, {
        pollMs: deps.pollMs,
        onChange: async (current) => {
          latest = current;
          await show();
        },
      })
        .then((done) => {
          access.audit({
            who: userId,
            what: 'retrain',
            result:
              done.state === 'succeeded'
                ? `succeeded: v${done.result?.version.version}`
                : `failed: ${done.error}`,
          });
        })
        .catch((err: unknown) => {
          access.audit({
            who: userId,
            what: 'retrain',
            result: `unknown: could not follow the run (${String(err)})`,
          });
          deps.logger.error({ run: run.id, err: String(err) }, 'could not follow the retrain');
        })
        .finally(() => following.delete(follow));
      following.add(follow);
      ref = await progress.open(places, origin, userId, progressReply(run)).catch((err: unknown) => {
        deps.logger.warn({ run: run.id, err: String(err) }, 'retrain: could not open the progress message');
        return undefined;
      });
      opened(ref);
      await show();
      await respond(
        ref
          ? `Retrain started: ${await progress.link(ref)}${ref.conversation === origin ? '' : ' (in the feed channel: the bot is not in this conversation)'}.`
          : progress.nowhere,
        { replaceOriginal: true },
      );
    },

    /** Waits for the runs being followed (shutdown). */
    async stop(): Promise<void> {
      await Promise.all(following);
    },
  };
}

/** The confirmation: what a retrain does, and one action carrying the one-shot token. */
function confirmationReply(token: string): Reply {
  return {
    title: 'Retrain the anomaly model?',
    summary:
      'This trains a new model version on the latest Gold windows. With automatic promotion it becomes the champion ' +
      'and the last 24 hours are scored again with it.',
    actions: [
      {
        id: RETRAIN_CONFIRM,
        label: 'Retrain now',
        value: token,
        style: 'primary',
        confirm: {
          title: 'Retrain the model?',
          text: 'A new model version is trained now; its progress is shown as it goes (in this conversation when the bot can post here, else in the feed channel).',
          confirm: 'Retrain',
          deny: 'Cancel',
        },
      },
    ],
    data: {},
  };
}

/** The promise's value, or undefined when it takes longer than `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms)),
  ]);
}

function mention(user: string): string {
  return /^[UW][A-Z0-9]+$/.test(user) ? `<@${user}>` : user;
}

/** Who asked for a run: a mention for a Slack user, else as it is ('schedule', 'command line'). */
function requester(user: string): string | Mention {
  return /^[UW][A-Z0-9]+$/.test(user) ? { user } : user;
}

/** The progress reply of a run, for each of its states. */
export function progressReply(run: RetrainRun): Reply {
  const title = {
    queued: '⏳ Retrain queued',
    running: '⚙️ Training a new model…',
    succeeded: `✅ Model v${run.result?.version.version} trained`,
    failed: '❌ Retrain failed',
  }[run.state];
  if (run.state === 'failed') {
    return {
      title,
      summary: run.error ?? 'The training run failed.',
      notes: ['See `/crypto status` for the pipeline.'],
      data: run,
    };
  }
  if (run.state !== 'succeeded' || !run.result) {
    return {
      title,
      summary: ['Asked for by ', requester(run.requested_by), ` at ${formatTime(run.created_at)}.`],
      data: run,
    };
  }
  const result = run.result;
  const previous = result.previous_champion;
  const moved = result.promoted
    ? previous
      ? `Champion moved: v${previous.version} → v${result.version.version}.`
      : `v${result.version.version} is the first champion.`
    : result.refused
      ? // Automatic promotion held it back: the channel's labels say it is clearly worse.
        result.refused
      : `Champion stays ${result.champion ? `v${result.champion.version}` : 'unset'} (manual promotion); the new version is a challenger.`;
  const shown = [
    result.version,
    ...(previous && previous.version !== result.version.version
      ? // As it is now: a promotion took its champion alias.
        [
          result.promoted
            ? { ...previous, aliases: previous.aliases.filter((a) => a !== 'champion') }
            : previous,
        ]
      : []),
  ];
  const labels = labelsTable(result);
  return {
    title,
    summary: moved,
    tables: [
      {
        ...versionsTable(shown, new Date(run.finished_at ?? run.created_at)),
        title: 'New version beside the champion before it',
      },
      ...(labels.table ? [labels.table] : []),
    ],
    ...(labels.note ? { notes: [labels.note] } : {}),
    data: run,
  };
}
