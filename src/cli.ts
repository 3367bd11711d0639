#!/usr/bin/env node
import { existsSync, realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Feed } from './chat/feed.js';
import { acceleratedClock, type Clock, fixedClock, systemClock } from './clock.js';
import { chartArgsSchema, writeChartPng } from './commands/chart.js';
import { inferCommand } from './commands/infer.js';
import { ingestCommand } from './commands/ingest.js';
import { modelsCommand } from './commands/models.js';
import { pipelineCommand, pipelineRewindCommand } from './commands/pipeline.js';
import { quarantineListCommand, quarantineRetryCommand } from './commands/quarantine.js';
import { type Command as ChatCommand, type ChatFlows, commands } from './commands/registry.js';
import { SCHEDULE_USAGE, scheduleChangedReply, schedulePreviewReply } from './commands/schedule.js';
import { sqlCommand } from './commands/sql.js';
import { topArgsSchema } from './commands/top.js';
import { trainCommand } from './commands/train.js';
import { type Config, ConfigError, loadConfig, parseMarketSource, teamsPackageDefaults } from './config.js';
import { durationSchema } from './domain/duration.js';
import { plainText, type Reply } from './domain/reply.js';
import { describeFeed } from './domain/summaries.js';
import { ExitCode, UserError } from './errors.js';
import { describeIoError } from './io-errors.js';
import { startMainJob } from './jobs/main-job.js';
import { nextRuns } from './jobs/schedules.js';
import { createLogger, type Logger } from './log.js';
import { type App, createApp } from './main.js';
import type { LakehouseRead } from './platform/port.js';
import { PRIVATE_UMASK } from './private-files.js';
import { renderText } from './render/text.js';

/**
 * `crypto-risk`: every command of the bot on the command line. Output goes to stdout (text, or
 * JSON with --json); logs go to stderr. Exit codes: 0 ok, 1 failed, 2 bad input or settings,
 * 3 database file busy.
 */

interface GlobalOptions {
  db?: string;
  json?: boolean;
  now?: Date;
}

export interface CliIo {
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Resolves when the process is asked to stop (SIGINT, SIGTERM): `run` then stops cleanly. */
  stopRequested?: Promise<string>;
}

/** The chat commands the command line offers (the registry's; a test may add one). */
export type ChatCommands = Readonly<Record<string, ChatCommand<unknown>>>;

export async function runCli(argv: string[], io: CliIo, chat: ChatCommands = commands): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = cliProgram(
    io,
    (code) => {
      exitCode = code;
    },
    chat,
  );
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return ExitCode.Usage;
    }
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    throw err;
  }
  return exitCode;
}

/**
 * Every command of the command line; `exited` gets the exit code of the one that ran. Each chat
 * command is here: by hand where the command line gives it options of its own (they run the
 * registry's handler), else derived from its registry entry, its tokens as in chat.
 */
export function cliProgram(
  io: CliIo,
  exited: (code: number) => void,
  chat: ChatCommands = commands,
): Command {
  const program = new Command('crypto-risk')
    .description('Crypto market risk monitor: lakehouse pipeline, anomaly model and operator commands')
    .option('--db <path>', 'local DuckDB file (default: $DATA_DIR/crypto.duckdb)')
    .option('--json', 'machine-readable output on stdout')
    .option('--now <iso>', 'evaluate "since" windows and lookbacks at this instant (ISO-8601)', parseInstant)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  /** Wires the app for one command, prints its reply, and turns errors into exit codes. */
  const execute =
    <A extends unknown[]>(work: (app: App, now: Date, ...args: A) => Promise<Reply>) =>
    async (...args: [...A, Command]) => {
      const command = args.at(-1) as Command;
      const globals = command.optsWithGlobals<GlobalOptions>();
      exited(await withApp(io, globals, (app, now) => work(app, now, ...(args.slice(0, -1) as A))));
    };

  program
    .command('run')
    .description(
      'the main job: ingest, pipeline, inference and training on their schedules (what `npm start` runs)',
    )
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (globals.now) {
        io.stderr(
          '`run` follows the clock; --now applies to one-off commands such as train, infer and top.\n',
        );
        exited(ExitCode.Usage);
        return;
      }
      exited(await withApp(io, globals, (app) => runMainJob(app, io), runClock));
    });

  program
    .command('ingest')
    .description('fetch new market data and write it to landing, one file per batch')
    .addOption(
      new Option(
        '--source <source>',
        'auto | coingecko | simulator | replay:FILE[@ASSET] (default: MARKET_SOURCE)',
      ).argParser((value) => {
        if (!parseMarketSource(value)) {
          throw new InvalidArgumentError('expected auto, coingecko, simulator or replay:FILE[@ASSET]');
        }
        return value;
      }),
    )
    .action(
      execute(async (app, _now, options: { source?: string }) => {
        const setting = options.source ? parseMarketSource(options.source) : undefined;
        if (setting?.kind === 'replay') setting.file = resolve(io.cwd, setting.file);
        const { source, notice } = await app.marketSource(setting);
        return ingestCommand({
          platform: app.platform,
          clock: app.clock,
          logger: app.logger,
          source,
          notice,
        });
      }),
    );

  program
    .command('pipeline')
    .description('Bronze → Silver → Gold once, over the landing files not processed yet')
    .option(
      '--rewind <stage-and-time...>',
      'instead of running, set a watermark back (audited): --rewind silver|gold <ISO-8601 UTC time>',
    )
    .action(
      execute((app, now, options: { rewind?: string[] }) => {
        const deps = { platform: app.platform, clock: app.clock, logger: app.logger };
        if (options.rewind) return pipelineRewindCommand({ ...deps, who: osUser(), now }, options.rewind);
        return pipelineCommand(deps);
      }),
    );

  program
    .command('train')
    .description(
      'fit a new model version on the Gold lookback ending at the clock (--now for replayed history)',
    )
    .addOption(
      new Option('--features <set>', 'feature set (default: MODEL_FEATURES)').choices(['seed', 'default']),
    )
    .action(
      execute((app, _now, options: { features?: 'seed' | 'default' }) =>
        trainCommand(
          { platform: app.platform, clock: app.clock, logger: app.logger },
          { featureSet: options.features },
        ),
      ),
    );

  program
    .command('infer')
    .description('score the Gold windows not scored yet with the champion and MERGE them into anomalies')
    .option('--rescore <duration>', 'also score again every window of this last stretch, e.g. 24h')
    .action(
      execute(async (app, _now, options: { rescore?: string }) => {
        const rescore = options.rescore === undefined ? undefined : durationSchema.safeParse(options.rescore);
        if (rescore && !rescore.success) throw usage(`--rescore ${rescore.error.issues[0]?.message}`);
        return inferCommand(
          { platform: app.platform, clock: app.clock, logger: app.logger },
          { rescoreSinceMs: rescore?.data },
        );
      }),
    );

  program
    .command('models')
    .description('model versions, their metrics, and which one is champion')
    .action(execute((app, now) => modelsCommand({ platform: app.platform, now })));

  program
    .command('promote')
    .description('make a model version the champion (with MODEL_PROMOTION=manual)')
    .argument('<version>', 'the version number, e.g. 3 (see `models`)', parsePositiveInt)
    .action(
      execute(async (app, now, version: number) => {
        const promoted = await app.platform.pipeline.promote(version);
        return {
          ...(await modelsCommand({ platform: app.platform, now })),
          title: `Model v${promoted.version} is champion`,
        };
      }),
    );

  program
    .command('provision')
    .description('Databricks: plan (default) or apply the schema, volume, notebooks, pipeline and jobs')
    .option('--plan', 'list what apply would create, update or leave unchanged (the default)')
    .option('--apply', 'make the workspace match the definition (idempotent)')
    .action(
      execute(async (app, now, options: { plan?: boolean; apply?: boolean }) => {
        if (options.plan && options.apply) throw usage('Give --plan or --apply, not both.');
        return runChat(app, io, now, commands.provision, { apply: Boolean(options.apply) });
      }),
    );

  program
    .command('status')
    .description('stages, freshness, last job runs, anomalies in the last 24 h')
    .action(execute((app, now) => runChat(app, io, now, commands.status, {})));

  program
    .command('top')
    .description('leaderboard of anomalies per asset and the N most anomalous windows')
    .argument('[N]', 'how many windows to list (1-500)', '10')
    .option('--since <duration>', 'look-back: 90m, 24h, 7d, 2w', '24h')
    .option('--asset <id>', 'one asset (CoinGecko id)')
    .action(
      execute(async (app, now, n: string, options: { since: string; asset?: string }) => {
        const parsed = topArgsSchema.safeParse({ limit: n, since: options.since, asset: options.asset });
        if (!parsed.success) throw usage(parsed.error.issues.map((i) => describeIssue(i)).join('; '));
        return runChat(app, io, now, commands.top, parsed.data);
      }),
    );

  program
    .command('chart')
    .description('price with anomaly markers as a PNG (the chart the Slack bot posts)')
    .argument('<asset>', 'CoinGecko id, e.g. bitcoin')
    .option('--since <duration>', 'look-back: 90m, 24h, 7d, 2w', '24h')
    .requiredOption('--out <file>', 'where to write the PNG')
    .action(
      execute(async (app, now, asset: string, options: { since: string; out: string }) => {
        const parsed = chartArgsSchema.safeParse({ asset, since: options.since });
        if (!parsed.success) throw usage(parsed.error.issues.map((i) => describeIssue(i)).join('; '));
        const reply = await runChat(app, io, now, commands.chart, parsed.data);
        // No chart: the usage answer saying the asset has no data.
        if (!reply.chart) throw usage(plainText(reply.summary));
        return writeChartPng(reply.chart, resolve(io.cwd, options.out));
      }),
    );

  program
    .command('sql')
    .description('one read-only SQL statement (SELECT or EXPLAIN) against the lakehouse')
    .argument('<query>', 'the statement, quoted')
    .option('--max-rows <n>', 'rows to show at most', parsePositiveInt, 100)
    .action(
      execute((app, _now, query: string, options: { maxRows: number }) =>
        sqlCommand(query, options.maxRows, app),
      ),
    );

  // Ops on landing files the pipeline moved aside (local platform); both actions are audited.
  const quarantine = program
    .command('quarantine')
    .description('landing files the pipeline quarantined after failing again and again: list, retry');
  const quarantineDeps = (app: App) => ({
    platform: app.platform,
    clock: app.clock,
    logger: app.logger,
    who: osUser(),
  });
  quarantine
    .command('list')
    .description('the quarantined files: reason, attempts, when')
    .action(execute((app) => quarantineListCommand(quarantineDeps(app))));
  quarantine
    .command('retry')
    .description('move a quarantined file back to landing and clear its failures; the next run tries it')
    .argument('<file>', 'its path as `quarantine list` shows it, e.g. date=2025-01-07/hour=00/x.jsonl')
    .action(execute((app, _now, file: string) => quarantineRetryCommand(quarantineDeps(app), file)));

  program
    .command('teams-package')
    .description('write the Teams app package (manifest and icons) to upload in Teams or its admin center')
    .option('--bot-id <guid>', "the bot's Microsoft App ID (default: TEAMS_CLIENT_ID)")
    .option(
      '--domain <host>',
      'a host name the app loads from, repeatable (default: the host of TEAMS_PUBLIC_URL)',
      (value: string, list: string[] = []) => [...list, value],
    )
    .option('--out <file>', 'where to write the zip', 'crypto-risk-teams.zip')
    .action(async (options: { botId?: string; domain?: string[]; out: string }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      exited(await teamsPackageCommand(io, globals, options));
    });

  program
    .command('schedule')
    .description(chat.schedule?.help ?? 'the jobs’ schedules')
    .argument('[args...]', `as in chat: ${SCHEDULE_USAGE}`)
    .option('--yes', 'make the change (without it: what it would do, and nothing changes)')
    .action(
      execute(async (app, now, tokens: string[], options: { yes?: boolean }) => {
        const entry = commands.schedule;
        const parsed = entry.parse(tokens);
        if (!parsed.ok) throw usage(parsed.problem);
        return runChat(app, io, now, entry, parsed.args, options);
      }),
    );

  for (const [name, entry] of Object.entries(chat)) {
    const cliName = entry.cli ?? name;
    if (hasCommand(program, cliName)) continue;
    program
      .command(cliName)
      .description(entry.help)
      .argument('[args...]', `as in chat: ${entry.usage}`)
      .action(
        execute(async (app, now, tokens: string[]) => {
          const parsed = entry.parse(tokens);
          if (!parsed.ok) throw usage(parsed.problem);
          return runChat(app, io, now, entry, parsed.args);
        }),
      );
  }
  return program;
}

/**
 * `teams-package`: the app package from the Teams settings, without opening the lakehouse. The
 * default domain is TEAMS_PUBLIC_URL's host (where the chart images are); the loopback default is
 * no domain Teams can reach, so then --domain is needed.
 */
async function teamsPackageCommand(
  io: CliIo,
  globals: GlobalOptions,
  options: { botId?: string; domain?: string[]; out: string },
): Promise<number> {
  try {
    const defaults = teamsPackageDefaults({ env: io.env, cwd: io.cwd });
    const botId = options.botId ?? defaults.botId;
    if (!botId) throw usage("Give --bot-id (the Azure Bot's Microsoft App ID) or set TEAMS_CLIENT_ID.");
    const publicHost = defaults.publicUrl ? new URL(defaults.publicUrl).host : undefined;
    const loopback = !publicHost || /^(?:127\.|localhost\b|\[::1\])/.test(publicHost);
    const validDomains = options.domain ?? (loopback ? [] : [publicHost]);
    if (validDomains.length === 0)
      throw usage('Give --domain (the host name the bot is reached at) or set TEAMS_PUBLIC_URL.');
    // Loaded for this command only: JSZip holds about 10 MB a running bot never uses.
    const { teamsAppPackage } = await import('./teams/app-package.js');
    const zip = await teamsAppPackage({ botId, validDomains }).catch((err: unknown) => {
      throw usage(err instanceof Error ? err.message : String(err));
    });
    const path = resolve(io.cwd, options.out);
    await writeFile(path, zip);
    const reply: Reply = {
      title: `Wrote ${path}`,
      summary: `The Teams app package for bot ${botId} (valid domains: ${validDomains.join(', ')}): upload it in Teams (Apps → Manage your apps → Upload an app) or in the Teams admin center.`,
      data: { path, botId, validDomains, bytes: zip.length },
    };
    io.stdout(globals.json ? `${JSON.stringify(reply.data, null, 2)}\n` : renderText(reply));
    return ExitCode.Ok;
  } catch (err) {
    return report(io, globals, err, undefined);
  }
}

/** Whether the program has this command (`help` is Commander's own). */
export function hasCommand(program: Command, name: string): boolean {
  return name === 'help' || program.commands.some((c) => c.name() === name);
}

/**
 * On the command line nothing waits for a button: a retrain is `crypto-risk train`, and a schedule
 * change is made with --yes (without it, the preview of what it would do, and nothing changes).
 */
function cliFlows(app: App, confirmed: boolean): ChatFlows {
  return {
    retrain: () => Promise.reject(usage('On the command line, `crypto-risk train` trains a model now.')),
    async schedule(user, request) {
      if (!confirmed) {
        const { after, next } = await app.schedules.check(request);
        const preview = schedulePreviewReply(request, after, next);
        return {
          ...preview,
          notes: [...(preview.notes ?? []), 'Nothing changed: run it again with --yes to make the change.'],
        };
      }
      const { change, after, note } = await app.schedules.change(request, user);
      return scheduleChangedReply(change, after, after.paused ? [] : nextRuns(after.cron, 3), note);
    },
  };
}

/**
 * A chat command's handler, run by the OS user: no ops check, as for every command here (whoever
 * runs the command line holds the platform's credentials).
 */
async function runChat<A>(
  app: App,
  io: CliIo,
  now: Date,
  entry: ChatCommand<A>,
  args: A,
  options: { yes?: boolean } = {},
): Promise<Reply> {
  const read = entry.read?.(args);
  if (read) await warmUp(app, io, read);
  const reply = await entry.run(args, {
    platform: app.platform,
    now,
    user: osUser(),
    flows: cliFlows(app, options.yes === true),
    schedules: app.schedules,
  });
  return reply ?? { title: 'Done.', data: {} };
}

async function withApp(
  io: CliIo,
  globals: GlobalOptions,
  work: (app: App, now: Date) => Promise<Reply>,
  makeClock: (config: Config) => Clock = () => (globals.now ? fixedClock(globals.now) : systemClock),
): Promise<number> {
  let config: Config;
  try {
    config = loadConfig({ env: io.env, cwd: io.cwd, overrides: { DUCKDB_PATH: globals.db } });
  } catch (err) {
    return report(io, globals, err, undefined);
  }
  const clock = makeClock(config);
  const logger = createLogger(config.log);
  let app: App | undefined;
  try {
    app = await createApp(config, { clock, logger });
    const reply = await work(app, clock.now());
    io.stdout(globals.json ? `${JSON.stringify(reply.data, null, 2)}\n` : renderText(reply));
    return ExitCode.Ok;
  } catch (err) {
    return report(io, globals, err, logger);
  } finally {
    await app?.close();
  }
}

/** Prints an error as a sentence (and as JSON on stdout with --json); returns the exit code. */
function report(io: CliIo, globals: GlobalOptions, failure: unknown, logger: Logger | undefined): number {
  // A full disk, a permission problem, a path of the wrong kind: a sentence, not "a bug".
  const err = failure instanceof UserError ? failure : (describeIoError(failure) ?? failure);
  const known = err instanceof UserError;
  const message = known
    ? err.message
    : `Unexpected error: ${err instanceof Error ? err.message : String(err)}. ` +
      'This is a bug; run again with LOG_LEVEL=debug for the details.';
  if (!known) logger?.debug({ err }, 'unexpected error');
  const code = known ? err.exitCode : ExitCode.Failure;
  io.stderr(`${message}\n`);
  if (globals.json) {
    const problems = err instanceof ConfigError ? err.problems : undefined;
    io.stdout(`${JSON.stringify({ error: { message, exit_code: code, problems } }, null, 2)}\n`);
  }
  return code;
}

/** `run`: the wall clock, or the accelerated one of the simulator demo (SIMULATOR_SPEED). */
function runClock(config: Config): Clock {
  return config.market.simulator.speed > 1 ? acceleratedClock(config.market.simulator.speed) : systemClock;
}

/** Starts the scheduled jobs, prints their live account, and stops cleanly when asked to. */
async function runMainJob(app: App, io: CliIo): Promise<Reply> {
  const { source, notice } = await app.marketSource();
  const { config } = app;
  const speed = config.market.simulator.speed;
  io.stdout(
    [
      config.databricks
        ? `crypto-risk-monitor: Databricks workspace ${config.databricks.host} (${config.databricks.catalog}.${config.databricks.schema}, warehouse ${config.databricks.warehouseId})`
        : `crypto-risk-monitor: embedded lakehouse in ${config.dbPath}`,
      `source: ${source.description}${speed > 1 ? `, running ${speed}× faster than real time` : ''}`,
      ...(notice ? [notice] : []),
      `schedules (UTC cron): ingest "${config.schedule.ingest}", pipeline "${config.schedule.pipeline}", ` +
        `infer "${config.schedule.infer}", train "${config.schedule.train}"`,
      'stop with Ctrl-C: the jobs in flight finish first',
      '',
    ].join('\n'),
  );
  const metrics = await app.serveMetrics();
  let chat: Awaited<ReturnType<App['startChat']>>;
  try {
    chat = await app.startChat();
  } catch (err) {
    await metrics?.close();
    throw err;
  }
  io.stdout(`${chat.where}\n${metrics ? `metrics: ${metrics.url}\n` : ''}`);
  const { feeds } = chat;
  try {
    const main = await startMainJob({
      platform: app.platform,
      clock: app.clock,
      logger: app.logger,
      source,
      schedule: config.schedule,
      health: app.jobHealth,
      metrics: app.metrics,
      schedules: app.schedules,
      print: (line) => io.stdout(`${line}\n`),
      extraJobs: [
        {
          name: 'feed',
          cron: config.schedule.feed,
          run: () => runFeeds(feeds, app.logger),
        },
      ],
    });
    const signal = await (io.stopRequested ?? new Promise<string>(() => {}));
    io.stdout(`${signal}: stopping; waiting for the jobs in flight\n`);
    await main.stop();
    return { title: 'Stopped cleanly.', data: { stopped: signal } };
  } finally {
    await chat.stop();
    await metrics?.close();
  }
}

/**
 * One feed cycle on every chat surface, each to its own conversation: one surface's failure (Teams
 * not installed anywhere yet) does not hold up the others; it fails the job only when all failed.
 */
async function runFeeds(feeds: readonly Feed[], logger: Logger): Promise<string | undefined> {
  const results = await Promise.allSettled(feeds.map((feed) => feed.runOnce()));
  const lines: string[] = [];
  const failures: unknown[] = [];
  for (const result of results) {
    if (result.status === 'rejected') failures.push(result.reason);
    else if (result.value.posted + result.value.updated + result.value.recovered > 0)
      lines.push(describeFeed(result.value));
  }
  if (failures.length > 0 && failures.length === results.length) throw failures[0];
  for (const failure of failures)
    logger.warn(
      { err: failure instanceof Error ? failure.message : String(failure) },
      'feed: one chat surface failed',
    );
  return lines.length > 0 ? lines.join('; ') : undefined;
}

/** Reads need the lakehouse: a stopped SQL warehouse is started (Databricks), and the user told. */
async function warmUp(app: App, io: CliIo, read: LakehouseRead): Promise<void> {
  const { ready, state } = await app.platform.reads.readiness(read);
  if (ready) return;
  io.stderr(`The SQL warehouse is ${state.toLowerCase()}; starting it (usually a minute or two)…\n`);
  await app.platform.reads.ensureReady();
}

/** The OS user running the command, for audit lines. */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

function usage(message: string): UserError {
  return new UserError(message, { exitCode: ExitCode.Usage });
}

function describeIssue(issue: { path: PropertyKey[]; message: string }): string {
  const name = String(issue.path[0] ?? '');
  if (name === 'limit') return issue.message;
  return `--${name} ${issue.message.startsWith('must') ? '' : 'must be '}${issue.message}`;
}

function parseInstant(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('expected an ISO-8601 instant such as 2025-01-22T12:00:00Z');
  }
  return date;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new InvalidArgumentError('expected a whole number from 1 to 100000');
  return n;
}

/** True when this file is the program being run (directly, through tsx, or through the bin link). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  return (
    script !== undefined && existsSync(script) && realpathSync(script) === fileURLToPath(import.meta.url)
  );
}

if (isEntryPoint()) {
  // What DuckDB creates on its own (the WAL, temporary files) gets no mode from us: the umask
  // keeps it, like everything else this process writes, private to its user.
  process.umask(PRIVATE_UMASK);
  const stopRequested = new Promise<string>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        resolve(signal);
        // A second signal while stopping means: stop now.
        process.once(signal, () => process.exit(130));
      });
    }
  });
  const code = await runCli(process.argv.slice(2), {
    env: process.env,
    cwd: process.cwd(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stopRequested,
  });
  process.exitCode = code;
}
