import { durationSchema, formatDurationSpec } from '../domain/duration.js';
import { formatTime } from '../domain/format.js';
import type { Reply, Text } from '../domain/reply.js';
import { ExitCode, UserError } from '../errors.js';
import { coinIdSchema } from '../market/record.js';
import type { Platform } from '../platform/port.js';
import { noDataFor } from './chart.js';
import { ALL_ASSETS, MAX_SILENCE_MS, type Silence, type Silences, silenceSubject } from './silences.js';
import { type Parsed, parsed, problem } from './slash.js';

/** A reason is a short note for the channel, not a message of its own. */
export const MAX_REASON = 120;

export interface MuteArgs {
  asset: string;
  durationMs: number;
  reason?: string;
}

interface SilenceContext {
  platform: Platform;
  now: Date;
  user: string;
  silences?: Silences;
}

const MUTE_EXAMPLE = '`mute bitcoin 2h maintenance`';

/** `mute <asset|all> <duration> [reason]`: a duration like 30m, 2h or 1d, at most 7 days. */
export function muteTokens(tokens: readonly string[]): Parsed<MuteArgs> {
  const [assetToken, durationToken, ...words] = tokens;
  if (!assetToken || !durationToken)
    return problem(`\`mute\` needs an asset (or all) and a duration, e.g. ${MUTE_EXAMPLE}.`);
  const asset = assetOf(assetToken);
  if (!asset) return problem('The asset must be a CoinGecko id such as bitcoin or ethereum, or all.');
  const duration = durationSchema.safeParse(durationToken);
  if (!duration.success || duration.data > MAX_SILENCE_MS)
    return problem(
      `The duration must be like 30m, 2h or 1d, at most ${formatDurationSpec(MAX_SILENCE_MS)} (7 days); \`${durationToken.slice(0, 20)}\` is not.`,
    );
  const reason = words.join(' ');
  if (reason.length > MAX_REASON)
    return problem(`The reason is ${reason.length} characters long; at most ${MAX_REASON} fit.`);
  return parsed({ asset, durationMs: duration.data, ...(reason ? { reason } : {}) });
}

/** `unmute <asset|all>`. */
export function unmuteTokens(tokens: readonly string[]): Parsed<{ asset: string }> {
  const asset = tokens.length === 1 ? assetOf(tokens[0] as string) : undefined;
  return asset
    ? parsed({ asset })
    : problem('`unmute` takes an asset (a CoinGecko id such as bitcoin) or all, e.g. `unmute bitcoin`.');
}

function assetOf(token: string): string | undefined {
  const asset = token.toLowerCase();
  if (asset === ALL_ASSETS) return asset;
  return coinIdSchema.safeParse(asset).success ? asset : undefined;
}

/**
 * Starts a silence: its anomalies are still scored and listed by top, not posted in the feed. An
 * asset the lakehouse does not know is the sentence saying so (a string), and nothing changes.
 */
export async function muteCommand(args: MuteArgs, ctx: SilenceContext): Promise<Reply | string> {
  const silences = storeOf(ctx, 'mute');
  if (args.asset !== ALL_ASSETS) {
    const missing = await noDataFor(args.asset, ctx.platform);
    if (missing) return missing;
  }
  const result = await silences.create({ ...args, by: ctx.user }, ctx.now);
  const subject = silenceSubject(args.asset);
  if ('existing' in result) {
    const s = result.existing;
    return unchanged([
      `${subject} is already muted until ${formatTime(s.ends_at)} (by `,
      { user: s.created_by },
      `); nothing was changed. \`unmute ${args.asset}\` first to mute it for another time.`,
    ]);
  }
  const s = result.created;
  return {
    title: `🔕 ${subject} muted`,
    summary: `${subject} muted until ${formatTime(s.ends_at)}${s.reason ? ` (${s.reason})` : ''}.`,
    notes: [
      `${args.asset === ALL_ASSETS ? 'Anomalies' : `${subject}'s anomalies`} are still scored and listed by top, but not posted in the feed until then; the feed says so. \`unmute ${args.asset}\` ends it sooner.`,
    ],
    data: s,
  };
}

/** Ends the active silences of an asset (all: every one) now. */
export async function unmuteCommand(args: { asset: string }, ctx: SilenceContext): Promise<Reply> {
  const silences = storeOf(ctx, 'unmute');
  const ended = await silences.end(args.asset, ctx.user, ctx.now);
  const subject = silenceSubject(args.asset);
  if (ended.length === 0) {
    const byAll = (await silences.active(ctx.now)).find((s) => s.asset === ALL_ASSETS);
    return unchanged(
      byAll
        ? `${subject} is muted only with all assets (until ${formatTime(byAll.ends_at)}): \`unmute all\` ends that. Nothing was changed.`
        : `${subject} is not muted; nothing was changed.`,
    );
  }
  return {
    title: `🔔 ${subject} unmuted`,
    summary: `${subject} unmuted: ${ended.length} silence(s) ended (${ended.map(describe).join('; ')}).`,
    notes: ['New anomalies are posted in the feed again; the feed says so.'],
    data: { ended },
  };
}

/** The active silences: what, until when, who, why. Read-only, so open to everyone. */
export async function mutesCommand(ctx: SilenceContext): Promise<Reply> {
  const active = await storeOf(ctx, 'mutes').active(ctx.now);
  return {
    title: 'Silences',
    summary:
      active.length === 0
        ? 'Nothing is muted: every anomaly is posted in the feed.'
        : `${active.length} active silence(s): their anomalies are scored and listed by top, not posted in the feed.`,
    tables:
      active.length === 0
        ? []
        : [
            {
              columns: [{ header: 'asset' }, { header: 'until' }, { header: 'by' }, { header: 'reason' }],
              rows: active.map((s) => [
                silenceSubject(s.asset),
                formatTime(s.ends_at),
                s.created_by,
                s.reason ?? '—',
              ]),
            },
          ],
    data: { silences: active },
  };
}

/** An answer that changed nothing, saying why. */
function unchanged(summary: Text): Reply {
  return { title: 'Nothing was changed', summary, data: { changed: false } };
}

function describe(s: Silence): string {
  return `${silenceSubject(s.asset)} until ${formatTime(s.ends_at)} by ${s.created_by}`;
}

/** The command line has no bot store: silences are the chat bot's. */
function storeOf(ctx: SilenceContext, name: string): Silences {
  if (ctx.silences) return ctx.silences;
  throw new UserError(
    `\`${name}\` is a chat command: silences belong to the chat bot's feed, so ask the bot in Slack or Teams (\`/crypto ${name}\`). Nothing was changed.`,
    { exitCode: ExitCode.Usage },
  );
}
