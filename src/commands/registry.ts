import type { Clock } from '../clock.js';
import { formatDurationSpec } from '../domain/duration.js';
import type { DataIncident } from '../domain/incidents.js';
import { plainText, type Reply } from '../domain/reply.js';
import type { ScheduleRequest, Schedules } from '../jobs/schedules.js';
import type { LakehouseRead, Platform } from '../platform/port.js';
import { type ChartRequest, chartReply, chartTokens, noDataFor, priceChart } from './chart.js';
import { dashboardCommand } from './dashboard.js';
import { helpCommand } from './help.js';
import { type MuteArgs, muteCommand, mutesCommand, muteTokens, unmuteCommand, unmuteTokens } from './mute.js';
import { provisionCommand, provisionTokens } from './provision.js';
import {
  requestText,
  SCHEDULE_USAGE,
  type ScheduleArgs,
  scheduleListCommand,
  scheduleTokens,
} from './schedule.js';
import type { Silences } from './silences.js';
import { MAX_TEXT, type NoArgs, noArguments, type Parsed, parsed } from './slash.js';
import { statusCommand } from './status.js';
import { type TopArgs, topCommand, topRead, topTokens } from './top.js';

/**
 * The chat commands, one entry each: what help, the README, the Slack manifest, the console's
 * example chips and the command line show of it, its grammar, whether it is an ops action, and its
 * handler. Everything else is derived from here (or checked against it by a test): adding a
 * command is one entry.
 */

/** The app's slash command. */
export const SLASH_COMMAND = '/crypto';

/** What only a chat surface can do; a command that uses one is answered by it. */
export interface ChatFlows {
  /** The retrain confirmation button, then the run's progress in a thread. */
  retrain(user: string): Promise<void>;
  /**
   * A schedule change: the confirmation (its preview and a one-shot button) in chat, the change
   * itself on the command line with --yes. Throws a UserError when the change cannot be made.
   */
  schedule(user: string, request: ScheduleRequest): Promise<Reply>;
}

/** What a handler runs against, whichever surface asked. */
export interface CommandContext {
  platform: Platform;
  now: Date;
  /** Who asked: a chat user id, or the OS user on the command line. */
  user: string;
  flows: ChatFlows;
  /** The chat bot's silences (its store); the command line has none. */
  silences?: Silences;
  /** The data incidents still open (the chat bot's store); the command line has none. */
  openIncidents?: () => Promise<DataIncident[]>;
  /** The local console's Dashboard view, when the bot runs on the console. */
  consoleDashboardUrl?: string;
  /** The jobs' schedules (`schedule`). */
  schedules?: Schedules;
}

/** An action only the ops team may run in chat: audited, and refused to anyone else. */
export interface OpsAction<A> {
  /** The audit line's `what`. */
  what(args: A): string;
  /** The answer to anyone who is not ops. */
  refusal: string;
  /** Whether these arguments make it an ops action (default: always); else anyone may run it. */
  when?(args: A): boolean;
}

export interface Command<A> {
  /** The grammar after the slash command, as help shows it: `chart <asset> [24h|7d]`. */
  usage: string;
  /** What it does, as help shows it after the usage. */
  help: string;
  /** What it does, as the README's command table shows it. */
  description: string;
  /** Invocations the local console offers as chips (the text after the slash command). */
  examples: readonly string[];
  /** The tokens after the command's name → its arguments, or a sentence saying what is wrong. */
  parse(tokens: readonly string[]): Parsed<A>;
  ops?: OpsAction<A>;
  /** The lakehouse read it makes, so a stopped warehouse can be started first (with a word to the user). */
  read?(args: A): LakehouseRead;
  /** The answer; nothing when a chat flow answered by itself. */
  run(args: A, ctx: CommandContext): Promise<Reply | undefined>;
  /** The command line's command for it when it has another name (else one is derived from this entry). */
  cli?: string;
}

/** Refused retrains: here, and at the confirmation button (src/slack/retrain.ts). */
export const RETRAIN_REFUSAL =
  'Only the ops team can retrain the model. Ask one of its members (SLACK_OPS_USERS or TEAMS_OPS_USERS, or the ops group).';

/** Refused schedule changes: here, and at the confirmation button (src/chat/schedule-flow.ts). */
export const SCHEDULE_REFUSAL =
  'Only the ops team can change a schedule. `schedule` alone shows them to everyone; ask an ops member to change one.';

/** Refused mutes and unmutes. */
export const MUTE_REFUSAL = 'Only the ops team can mute or unmute the feed. Ask one of its members.';

const command = <A>(spec: Command<A>): Command<A> => spec;

const definitions = {
  top: command<TopArgs>({
    usage: 'top [N] [24h|7d|…] [asset]',
    help: 'anomalies per asset and the N most anomalous windows, with a chart',
    description: 'anomalies per asset and the N most anomalous windows, with a chart',
    examples: ['top'],
    parse: topTokens,
    read: topRead,
    run: (args, ctx) => topCommand(args, ctx),
  }),
  status: command<NoArgs>({
    usage: 'status',
    help: 'health of each stage, data freshness, last job runs, champion model',
    description: 'health of each stage, freshness, last run of each job, champion model, anomalies in 24 h',
    examples: ['status'],
    parse: noArguments('status'),
    run: (_args, ctx) => statusCommand(ctx),
  }),
  chart: command<ChartRequest>({
    usage: 'chart <asset> [24h|7d]',
    help: 'price with anomaly markers',
    description: 'price with anomaly markers',
    examples: ['chart bitcoin'],
    parse: chartTokens,
    read: (args) => ({ kind: 'chart', sinceMs: args.since, asset: args.asset }),
    async run(args, ctx) {
      const missing = await noDataFor(args.asset, ctx.platform);
      if (missing) return usageReply(missing);
      return chartReply(await priceChart({ asset: args.asset, sinceMs: args.since }, ctx));
    },
  }),
  dashboard: command<NoArgs>({
    usage: 'dashboard',
    help: 'the link to the dashboard (price, leaderboard, anomaly rate, scores, recent anomalies)',
    description:
      'the link to the dashboard: the published AI/BI dashboard on Databricks, the console’s Dashboard view locally',
    examples: ['dashboard'],
    parse: noArguments('dashboard'),
    run: (_args, ctx) => dashboardCommand(ctx),
  }),
  retrain: command<NoArgs>({
    usage: 'retrain',
    help: 'train a new model now (ops only; asks for confirmation)',
    description: 'ops only: a confirmation button, then training with its progress in a thread',
    examples: ['retrain'],
    parse: noArguments('retrain'),
    ops: { what: () => 'retrain (request)', refusal: RETRAIN_REFUSAL },
    async run(_args, ctx) {
      await ctx.flows.retrain(ctx.user);
      return undefined;
    },
    // The command line trains at once, without a confirmation: `crypto-risk train`.
    cli: 'train',
  }),
  provision: command<{ apply: boolean }>({
    usage: 'provision [apply]',
    help: 'Databricks: the deployment plan, or apply it (ops only)',
    description: 'ops only: the Databricks deployment plan, or apply it',
    // None: the console runs the embedded default, where provisioning only says it is for Databricks.
    examples: [],
    parse: provisionTokens,
    ops: {
      what: (args) => (args.apply ? 'provision (apply)' : 'provision (plan)'),
      refusal: 'Only the ops team can provision Databricks.',
    },
    run: (args, ctx) => provisionCommand(args.apply, ctx),
  }),
  mute: command<MuteArgs>({
    usage: 'mute <asset|all> <30m|2h|1d|…> [reason]',
    help: 'stop posting the anomalies of an asset (or all) for up to 7d; they are still scored (ops only)',
    description:
      'ops only: the feed stops posting the anomalies of the asset (or of every asset) for up to 7 days; `top` still lists them',
    examples: ['mute bitcoin 2h maintenance'],
    parse: muteTokens,
    ops: {
      what: (args) => `mute ${args.asset} ${formatDurationSpec(args.durationMs)}`,
      refusal: MUTE_REFUSAL,
    },
    async run(args, ctx) {
      const reply = await muteCommand(args, ctx);
      return typeof reply === 'string' ? usageReply(reply) : reply;
    },
  }),
  unmute: command<{ asset: string }>({
    usage: 'unmute <asset|all>',
    help: 'end the silence of an asset now, or every silence with all (ops only)',
    description: 'ops only: ends the silence of the asset now (`all`: every silence)',
    examples: ['unmute bitcoin'],
    parse: unmuteTokens,
    ops: { what: (args) => `unmute ${args.asset}`, refusal: MUTE_REFUSAL },
    run: (args, ctx) => unmuteCommand(args, ctx),
  }),
  schedule: command<ScheduleArgs>({
    usage: SCHEDULE_USAGE,
    help: 'each job’s schedule; pause, resume, set or reset one (changes: ops only, confirmed first)',
    description:
      'each job’s cron (UTC), paused or not, last and next runs; ops only: pause (for a while or until resumed), resume, set a cron (its next runs shown before confirming), reset to the configured default, each confirmed, audited and announced in the feed channel',
    examples: ['schedule', 'schedule pause score 2h'],
    parse: scheduleTokens,
    ops: {
      what: (args) => (args.list ? 'schedule' : `schedule ${requestText(args.request)} (request)`),
      refusal: SCHEDULE_REFUSAL,
      when: (args) => !args.list,
    },
    run: (args, ctx) => (args.list ? scheduleListCommand(ctx) : ctx.flows.schedule(ctx.user, args.request)),
  }),
  mutes: command<NoArgs>({
    usage: 'mutes',
    help: 'the active silences: asset, until when, who, why',
    description: 'the active silences: asset or all, until when (UTC), who muted, why',
    examples: ['mutes'],
    parse: noArguments('mutes'),
    run: (_args, ctx) => mutesCommand(ctx),
  }),
  help: command<NoArgs>({
    usage: 'help',
    help: 'this text',
    description: 'usage',
    examples: ['help'],
    // Anything after `help` is ignored: asking for help is never wrong.
    parse: () => parsed({}),
    run: async () => usageReply(),
    // Commander's own `crypto-risk help`.
    cli: 'help',
  }),
};

export type CommandName = keyof typeof definitions;
export type ArgsOf<N extends CommandName> = (typeof definitions)[N] extends Command<infer A> ? A : never;
export const commands: { readonly [N in CommandName]: Command<ArgsOf<N>> } = definitions;
/** In the order help lists them. */
export const commandNames = Object.keys(commands) as CommandName[];

type RequestOf<N extends CommandName> = N extends CommandName ? { name: N; args: ArgsOf<N> } : never;
/** A `/crypto` request after parsing, or the reason it could not be parsed. */
export type SlashRequest = RequestOf<CommandName> | { name: 'usage'; problem: string };

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(commands, name);
}

/** Parses the text after `/crypto`; anything unknown or malformed becomes a usage answer. */
export function parseSlashText(text: string): SlashRequest {
  if (text.length > MAX_TEXT)
    return { name: 'usage', problem: `That is too long for a command (${text.length} characters).` };
  const [word = 'help', ...tokens] = text.trim().split(/\s+/).filter(Boolean);
  const name = word.toLowerCase();
  if (!isCommandName(name))
    return { name: 'usage', problem: `\`${word.slice(0, 40)}\` is not a command I know.` };
  return parseArgs(name, tokens);
}

/**
 * The command a text asks for, as a metric label: its name when it is one, `help` when empty,
 * else `unknown` (a label never holds what someone typed).
 */
export function commandLabel(text: string): CommandName | 'unknown' {
  const word = (text.trim().split(/\s+/)[0] ?? '').toLowerCase() || 'help';
  return isCommandName(word) ? word : 'unknown';
}

function parseArgs<N extends CommandName>(name: N, tokens: readonly string[]): SlashRequest {
  const result = commands[name].parse(tokens);
  // The entry of `name` parsed its own arguments: the pair is that command's request.
  return result.ok
    ? ({ name, args: result.args } as RequestOf<N>)
    : { name: 'usage', problem: result.problem };
}

/** Who may run ops actions, and their audit trail (src/chat/access.ts). */
export interface OpsAccess {
  isOps(user: string): Promise<boolean>;
  audit(entry: { who: string; what: string; result: string }): void;
}

/** What a chat surface gives the dispatch. */
export interface ChatSurface {
  platform: Platform;
  clock: Clock;
  user: string;
  flows: ChatFlows;
  access: OpsAccess;
  /** Before a lakehouse read: starts a stopped warehouse, telling the user it is starting. */
  warmUp(read: LakehouseRead): Promise<void>;
  /** Tells the user that an ops action is not theirs to run. */
  refuse(sentence: string): Promise<void>;
  /** The bot's silences (mute, unmute, mutes; top marks muted windows). */
  silences?: Silences;
  /** The data incidents still open (status lists them). */
  openIncidents?: () => Promise<DataIncident[]>;
  /** The local console's Dashboard view, when the bot runs on the console. */
  consoleDashboardUrl?: string;
  /** The jobs' schedules (`schedule`). */
  schedules?: Schedules;
}

/**
 * Runs a parsed request: an ops action is checked (and audited) here and only here, a read warms the
 * lakehouse up first, and the entry's handler answers.
 */
export async function dispatch(request: SlashRequest, surface: ChatSurface): Promise<Reply | undefined> {
  if (request.name === 'usage') return usageReply(request.problem);
  return runRequest(request, surface);
}

async function runRequest<N extends CommandName>(
  request: { name: N; args: ArgsOf<N> },
  surface: ChatSurface,
): Promise<Reply | undefined> {
  const entry = commands[request.name];
  const { user, access, platform, flows } = surface;
  const ops = entry.ops &&
    (entry.ops.when?.(request.args) ?? true) && {
      what: entry.ops.what(request.args),
      refusal: entry.ops.refusal,
    };
  if (ops && !(await access.isOps(user))) {
    access.audit({ who: user, what: ops.what, result: 'refused: not an ops user' });
    await surface.refuse(ops.refusal);
    return undefined;
  }
  const read = entry.read?.(request.args);
  if (read) await surface.warmUp(read);
  const reply = await entry.run(request.args, {
    platform,
    now: surface.clock.now(),
    user,
    flows,
    ...(surface.silences ? { silences: surface.silences } : {}),
    ...(surface.openIncidents ? { openIncidents: surface.openIncidents } : {}),
    ...(surface.consoleDashboardUrl ? { consoleDashboardUrl: surface.consoleDashboardUrl } : {}),
    ...(surface.schedules ? { schedules: surface.schedules } : {}),
  });
  // A flow audits its own steps (the retrain flow: asked to confirm, confirmed, its outcome).
  if (ops && reply) access.audit({ who: user, what: ops.what, result: plainText(reply.summary) || 'done' });
  return reply;
}

/** Help's lines, one per command. */
export function usageLines(): string[] {
  return commandNames.map((name) => `\`${SLASH_COMMAND} ${commands[name].usage}\`: ${commands[name].help}`);
}

/** The usage text, after the problem with the request when there was one. */
export function usageReply(problem?: string): Reply {
  return helpCommand(usageLines(), problem);
}

/** The Slack manifest's `usage_hint` of the slash command. */
export function usageHint(): string {
  return commandNames.map((name) => commands[name].usage).join(' | ');
}

/** The rows of the README's command table. */
export function readmeRows(): string[] {
  return commandNames.map(
    (name) =>
      `| \`${SLASH_COMMAND} ${commands[name].usage.replaceAll('|', '\\|')}\` | ${commands[name].description} |`,
  );
}

/** The example invocations the local console offers. */
export function chatExamples(): string[] {
  return commandNames.flatMap((name) => commands[name].examples.map((e) => `${SLASH_COMMAND} ${e}`));
}
