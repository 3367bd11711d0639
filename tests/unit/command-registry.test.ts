import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type ChatCommands, cliProgram, hasCommand, runCli } from '../../src/cli.js';
import {
  type ChatSurface,
  type Command,
  chatExamples,
  commandNames,
  commands,
  dispatch,
  MUTE_REFUSAL,
  parseSlashText,
  RETRAIN_REFUSAL,
  readmeRows,
  SCHEDULE_REFUSAL,
  usageHint,
  usageLines,
  usageReply,
} from '../../src/commands/registry.js';
import { type NoArgs, parsed } from '../../src/commands/slash.js';
import { plainText } from '../../src/domain/reply.js';
import type { LakehouseRead, Platform } from '../../src/platform/port.js';
import { type LocalSlack, startLocalSlack } from '../../src/slack/local-slack/index.js';
import { createTestLakehouse, type TestLakehouse } from '../support/lakehouse.js';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');

/** A platform that records every property read and answers none: for paths that must not touch it. */
function untouchedPlatform(): { platform: Platform; touched: string[] } {
  const touched: string[] = [];
  const platform = new Proxy({} as Platform, {
    get(_target, property) {
      touched.push(String(property));
      throw new Error(`the platform was used (${String(property)})`);
    },
  });
  return { platform, touched };
}

/** A chat surface recording what the dispatch did through it. */
function surface(platform: Platform, user: string, ops: readonly string[]) {
  const log = {
    audits: [] as Array<{ who: string; what: string; result: string }>,
    refusals: [] as string[],
    warmUps: [] as LakehouseRead[],
    flows: [] as string[],
  };
  const s: ChatSurface = {
    platform,
    clock: { now: () => new Date('2025-02-01T12:00:00Z') },
    user,
    access: {
      isOps: async (id) => ops.includes(id),
      audit: (entry) => log.audits.push(entry),
    },
    flows: {
      retrain: async (id) => {
        log.flows.push(`retrain by ${id}`);
      },
      schedule: async (id, request) => {
        log.flows.push(`schedule ${request.action} ${request.job} by ${id}`);
        return { title: 'asked', data: {} };
      },
    },
    warmUp: async (r) => {
      log.warmUps.push(r);
    },
    refuse: async (sentence) => {
      log.refusals.push(sentence);
    },
  };
  return { surface: s, log };
}

describe('the command registry', () => {
  it('builds help from its entries, one line per command, with the sentences help always had', () => {
    expect(usageReply().notes).toEqual([
      '`/crypto top [N] [24h|7d|…] [asset]`: anomalies per asset and the N most anomalous windows, with a chart',
      '`/crypto status`: health of each stage, data freshness, last job runs, champion model',
      '`/crypto chart <asset> [24h|7d]`: price with anomaly markers',
      '`/crypto dashboard`: the link to the dashboard (price, leaderboard, anomaly rate, scores, recent anomalies)',
      '`/crypto retrain`: train a new model now (ops only; asks for confirmation)',
      '`/crypto provision [apply]`: Databricks: the deployment plan, or apply it (ops only)',
      '`/crypto mute <asset|all> <30m|2h|1d|…> [reason]`: stop posting the anomalies of an asset (or all) for up to 7d; they are still scored (ops only)',
      '`/crypto unmute <asset|all>`: end the silence of an asset now, or every silence with all (ops only)',
      '`/crypto schedule [pause <job> [30m|2h|1d…] | resume <job> | set <job> <cron> | reset <job>]`: each job’s schedule; pause, resume, set or reset one (changes: ops only, confirmed first)',
      '`/crypto mutes`: the active silences: asset, until when, who, why',
      '`/crypto help`: this text',
    ]);
    expect(usageLines().map((line) => /^`\/crypto (\w+)/.exec(line)?.[1])).toEqual(commandNames);
    const wrong = usageReply('`tops` is not a command I know.');
    expect(wrong.title).toBe('That command did not work');
    expect(wrong.summary).toBe('`tops` is not a command I know.');
    expect(wrong.data).toEqual({ problem: '`tops` is not a command I know.', usage: usageLines() });
  });

  it('is what the Slack manifest hints at for /crypto', () => {
    const manifest = parseYaml(read('slack/manifest.yml')) as {
      features: { slash_commands: Array<{ command: string; usage_hint: string }> };
    };
    const crypto = manifest.features.slash_commands.find((c) => c.command === '/crypto');
    expect(crypto?.usage_hint).toBe(usageHint());
    for (const name of commandNames) expect(usageHint()).toContain(name);
  });

  it('is the README command table, row for row', () => {
    const lines = read('README.md').split('\n');
    const header = lines.indexOf('| command | what it does |');
    expect(header).toBeGreaterThan(-1);
    const end = lines.findIndex((line, i) => i > header && !line.startsWith('|'));
    expect(lines.slice(header + 2, end)).toEqual(readmeRows());
  });

  it('has a command line command for every chat command (retrain is `train`, help Commander’s)', () => {
    const program = cliProgram({ env: {}, cwd: '.', stdout: () => {}, stderr: () => {} }, () => {});
    for (const name of commandNames) {
      const cli = commands[name].cli ?? name;
      expect(hasCommand(program, cli), `${name} → ${cli}`).toBe(true);
    }
    expect(commands.retrain.cli).toBe('train');
    expect(program.commands.map((c) => c.name())).not.toContain('retrain');
  });

  it('serves the console its examples, each one a command of the registry', async () => {
    slack = await startLocalSlack({ signingSecret: 'secret', botToken: 'xoxb-test' });
    const res = await fetch(`${slack.baseUrl}/console/commands`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; examples: string[] };
    expect(body).toEqual({ ok: true, examples: chatExamples() });
    expect(body.examples).toEqual([
      '/crypto top',
      '/crypto status',
      '/crypto chart bitcoin',
      '/crypto dashboard',
      '/crypto retrain',
      '/crypto mute bitcoin 2h maintenance',
      '/crypto unmute bitcoin',
      '/crypto schedule',
      '/crypto schedule pause score 2h',
      '/crypto mutes',
      '/crypto help',
    ]);
    for (const example of body.examples) {
      expect(parseSlashText(example.replace(/^\/crypto /, '')).name).not.toBe('usage');
    }
  });

  it('has a handler for every command: one without does not compile', () => {
    // @ts-expect-error a command without `run` is not a command
    const noHandler: Command<NoArgs> = {
      usage: 'version',
      help: 'the version',
      description: 'the version',
      examples: [],
      parse: () => parsed({}),
    };
    expect(noHandler.usage).toBe('version');
    for (const name of commandNames) expect(typeof commands[name].run, name).toBe('function');
  });
});

let slack: LocalSlack | undefined;
let lake: TestLakehouse | undefined;
let dir: string | undefined;
afterEach(async () => {
  await slack?.close();
  await lake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  slack = undefined;
  lake = undefined;
  dir = undefined;
});

describe('dispatch', () => {
  it('refuses every ops action to anyone not ops, in one place: an audit line, its sentence, no platform call', async () => {
    const opsCommands = commandNames.filter((name) => commands[name].ops);
    expect(opsCommands).toEqual(['retrain', 'provision', 'mute', 'unmute', 'schedule']);
    const texts: Partial<Record<string, string>> = {
      retrain: 'retrain',
      provision: 'provision apply',
      mute: 'mute bitcoin 2h',
      unmute: 'unmute all',
      schedule: 'schedule pause score 2h',
    };
    const { platform, touched } = untouchedPlatform();
    const { surface: s, log } = surface(platform, 'U0VIEW01', ['U0OPS01']);
    for (const name of opsCommands) {
      expect(await dispatch(parseSlashText(texts[name] ?? name), s)).toBeUndefined();
    }
    expect(log.refusals).toEqual([
      RETRAIN_REFUSAL,
      'Only the ops team can provision Databricks.',
      MUTE_REFUSAL,
      MUTE_REFUSAL,
      SCHEDULE_REFUSAL,
    ]);
    expect(log.audits).toEqual([
      { who: 'U0VIEW01', what: 'retrain (request)', result: 'refused: not an ops user' },
      { who: 'U0VIEW01', what: 'provision (apply)', result: 'refused: not an ops user' },
      { who: 'U0VIEW01', what: 'mute bitcoin 2h', result: 'refused: not an ops user' },
      { who: 'U0VIEW01', what: 'unmute all', result: 'refused: not an ops user' },
      { who: 'U0VIEW01', what: 'schedule pause score for 2h (request)', result: 'refused: not an ops user' },
    ]);
    expect(log.flows).toEqual([]);
    expect(touched).toEqual([]);
  });

  it('hands an ops user’s retrain to the chat’s flow, which answers by itself', async () => {
    const { platform, touched } = untouchedPlatform();
    const { surface: s, log } = surface(platform, 'U0OPS01', ['U0OPS01']);
    expect(await dispatch(parseSlashText('retrain'), s)).toBeUndefined();
    expect(log.flows).toEqual(['retrain by U0OPS01']);
    expect(log.refusals).toEqual([]);
    // The flow audits its own steps; the dispatch adds nothing for an answer it did not give.
    expect(log.audits).toEqual([]);
    expect(touched).toEqual([]);
  });

  it('does not audit an ops action as done when its handler fails', async () => {
    lake = await createTestLakehouse();
    const { surface: s, log } = surface(lake.platform, 'U0OPS01', ['U0OPS01']);
    // The embedded default has no deployment: the handler's sentence reaches the user, nothing is audited as done.
    await expect(dispatch(parseSlashText('provision'), s)).rejects.toThrow(/Provisioning sets up Databricks/);
    expect(log.audits).toEqual([]);
  });

  it('warms the lakehouse up for the read a command makes, before answering', async () => {
    lake = await createTestLakehouse();
    const { surface: s, log } = surface(lake.platform, 'U0VIEW01', []);
    const top = await dispatch(parseSlashText('top 5 7d bitcoin'), s);
    expect(log.warmUps).toEqual([{ kind: 'top', sinceMs: 7 * 86_400_000, limit: 5, asset: 'bitcoin' }]);
    expect(top?.title).toBe('Top anomalies, last 7d for bitcoin');
    const chart = await dispatch(parseSlashText('chart bitcoin'), s);
    expect(log.warmUps.at(-1)).toEqual({ kind: 'chart', sinceMs: 86_400_000, asset: 'bitcoin' });
    expect(chart?.title).toBe('That command did not work');
    expect(plainText(chart?.summary)).toBe(
      'There is no data for "bitcoin". No asset has data yet: run `crypto-risk ingest` and `pipeline`.',
    );
    expect(await dispatch(parseSlashText('status'), s)).toMatchObject({ title: 'Pipeline status (local)' });
    expect(log.warmUps).toHaveLength(2);
  });
});

describe('a new chat command', () => {
  /** `/crypto version`, as one more registry entry would add it. */
  const version: Command<{ verbose: boolean }> = {
    usage: 'version [verbose]',
    help: 'the version of the bot',
    description: 'the version of the bot',
    examples: ['version'],
    parse: (tokens) =>
      tokens.length === 0
        ? { ok: true, args: { verbose: false } }
        : tokens.length === 1 && tokens[0] === 'verbose'
          ? { ok: true, args: { verbose: true } }
          : { ok: false, problem: '`version` takes nothing or `verbose`.' },
    run: async (args, ctx) => ({
      title: 'crypto-risk-monitor',
      summary: `${args.verbose ? 'verbose ' : ''}asked by ${ctx.user} on ${ctx.platform.kind}`,
      data: { verbose: args.verbose },
    }),
  };

  async function cli(args: string[], chat: ChatCommands) {
    dir ??= await mkdtemp(join(tmpdir(), 'crm-registry-'));
    let stdout = '';
    let stderr = '';
    const code = await runCli(
      args,
      {
        env: { DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' },
        cwd: dir,
        stdout: (t) => {
          stdout += t;
        },
        stderr: (t) => {
          stderr += t;
        },
      },
      chat,
    );
    return { code, stdout, stderr };
  }

  it('is on the command line with no edit to it: its tokens as in chat, its handler, its refusals', async () => {
    const chat = { ...commands, version };
    const ran = await cli(['version', 'verbose', '--json'], chat);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(ran.stdout)).toEqual({ verbose: true });
    const text = await cli(['version'], chat);
    expect(text.stdout).toMatch(/crypto-risk-monitor[\s\S]*asked by \S+ on local/);
    const wrong = await cli(['version', 'loud'], chat);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/`version` takes nothing or `verbose`\./);
    const help = await cli(['--help'], chat);
    expect(help.stdout).toMatch(/version \[args\.\.\.\]\s+the version of the bot/);
    // Without the entry, there is no such command.
    expect((await cli(['version'], commands)).code).toBe(2);
  });
});
