import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseMarketSource } from '../../src/config.js';
import { ExitCode } from '../../src/errors.js';

const load = (env: Record<string, string>, cwd = '/srv/app') => loadConfig({ env, cwd });

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(ExitCode.Usage);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has a local default for everything', () => {
    const config = load({});
    expect(config).toMatchObject({
      dataDir: '/srv/app/data',
      dbPath: '/srv/app/data/crypto.duckdb',
      landingDir: '/srv/app/data/landing',
      market: {
        source: { kind: 'auto' },
        assets: ['bitcoin', 'ethereum', 'solana', 'cardano', 'dogecoin'],
        coingecko: { plan: 'public', timeoutMs: 10_000 },
        simulator: { seed: 42, tickSeconds: 60, historyHours: 24 },
      },
      log: { level: 'info', format: 'pretty' },
    });
  });

  it('without Slack credentials, sets up the local console on loopback with the console’s ops group', () => {
    expect(load({}).console).toEqual({
      host: '127.0.0.1',
      port: 3000,
      slackMode: 'http',
      stateDir: '/srv/app/data/console',
      historyMessages: 1000,
      feed: { channel: 'crypto-alerts' },
      opsUsers: [],
      opsUsergroup: 'S0CRYPTOOPS',
    });
    // configured ops users replace the default group; an in-memory database keeps the console in memory too
    expect(
      load({ SLACK_OPS_USERS: 'U0VIEW01', DUCKDB_PATH: ':memory:', PORT: '8080' }).console,
    ).toMatchObject({
      port: 8080,
      stateDir: undefined,
      opsUsers: ['U0VIEW01'],
      opsUsergroup: undefined,
    });
    expect(load({ CONSOLE_HOST: '0.0.0.0' }).console?.host).toBe('0.0.0.0');
    expect(problemsOf(() => load({ CONSOLE_HOST: 'my host; rm -rf' }))).toEqual([
      'CONSOLE_HOST: must be an address to listen on, such as 127.0.0.1 or 0.0.0.0',
    ]);
    expect(load({ CONSOLE_SLACK_MODE: 'socket' }).console?.slackMode).toBe('socket');
    expect(problemsOf(() => load({ CONSOLE_SLACK_MODE: 'websocket' }))).toEqual([
      'CONSOLE_SLACK_MODE: must be http (signed requests) or socket (Socket Mode)',
    ]);
    const slack = load({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret' });
    expect(slack.console).toBeUndefined();
    expect(slack.slack?.opsUsergroup).toBeUndefined();
  });

  it('serves metrics on loopback port 9464 by default; METRICS_PORT sets the port or turns them off', () => {
    expect(load({})).toMatchObject({
      metrics: { host: '127.0.0.1', port: 9464, explicit: false },
      readyMaxFailedRuns: 3,
    });
    expect(load({ METRICS_PORT: '9100', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({
      host: '0.0.0.0',
      port: 9100,
      explicit: true,
    });
    expect(load({ METRICS_PORT: 'off' }).metrics).toBeUndefined();
    expect(problemsOf(() => load({ METRICS_PORT: 'on', READY_MAX_FAILED_RUNS: '0' }))).toEqual([
      'METRICS_PORT: must be a port number from 1 to 65535, or off',
      'READY_MAX_FAILED_RUNS: must be a whole number of runs from 1 to 1000',
    ]);
  });

  it('lists every problem at once, by setting name', () => {
    const problems = problemsOf(() =>
      load({
        MARKET_SOURCE: 'kraken',
        CRYPTO_ASSETS: 'bitcoin,Eth$',
        COINGECKO_TIMEOUT_MS: 'soon',
        SIMULATOR_SEED: '-1',
        LOG_LEVEL: 'loud',
        COINGECKO_API_PLAN: 'pro',
      }),
    );
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(
      /^MARKET_SOURCE: must be auto, coingecko, simulator or replay:FILE\[@ASSET\]$/m,
    );
    expect(problems.join('\n')).toMatch(/^CRYPTO_ASSETS: "eth\$" is not a CoinGecko coin id/m);
    expect(problems.join('\n')).toMatch(/^COINGECKO_TIMEOUT_MS: must be a whole number/m);
    expect(problems.join('\n')).toMatch(/^SIMULATOR_SEED: /m);
    expect(problems.join('\n')).toMatch(/^LOG_LEVEL: /m);
    expect(problems.join('\n')).toMatch(/^COINGECKO_API_PLAN: pro needs COINGECKO_API_KEY/m);
  });

  it('checks the model and schedule settings, and that only the simulator can be sped up', () => {
    const problems = problemsOf(() =>
      load({
        MODEL_CONTAMINATION: '0.7',
        SCHEDULE_TRAIN: 'daily',
        TRAIN_LOOKBACK: '7y',
        SIMULATOR_SPEED: '60',
      }),
    );
    expect(problems).toEqual([
      'MODEL_CONTAMINATION: must be auto or a number in (0, 0.5]',
      'TRAIN_LOOKBACK: must be a duration like 90m, 24h, 7d or 2w',
      'SCHEDULE_TRAIN: must be a cron expression such as "*/2 * * * *" (minute hour day month weekday, UTC)',
      'SIMULATOR_SPEED: only the simulator can run faster than real time; set MARKET_SOURCE=simulator',
    ]);
    expect(problemsOf(() => load({ SIMULATOR_SPEED: '60' }))).toEqual([
      'SIMULATOR_SPEED: only the simulator can run faster than real time; set MARKET_SOURCE=simulator',
    ]);
    const config = load({
      MARKET_SOURCE: 'simulator',
      SIMULATOR_SPEED: '60',
      MODEL_CONTAMINATION: 'auto',
      TRAIN_LOOKBACK: '3d',
    });
    expect(config.market.simulator.speed).toBe(60);
    expect(config.model).toMatchObject({ contamination: 'auto', lookbackMs: 3 * 86_400_000 });
  });

  it('never echoes a secret, even when the settings around it are wrong', () => {
    let message = '';
    try {
      load({ COINGECKO_API_KEY: 'CG-sekret-123', COINGECKO_API_PLAN: 'platinum', PORT_TYPO: 'x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/COINGECKO_API_PLAN: must be demo or pro/);
    expect(message).not.toContain('CG-sekret-123');
  });

  it('reads a JSON config file; the environment wins over it; unknown keys are refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'crm-config-'));
    await writeFile(
      join(dir, 'crypto-risk.config.json'),
      JSON.stringify({ CRYPTO_ASSETS: ['bitcoin', 'ripple'], SIMULATOR_SEED: 7, LOG_LEVEL: 'debug' }),
    );
    const config = load({ LOG_LEVEL: 'warn' }, dir);
    expect(config.market.assets).toEqual(['bitcoin', 'ripple']);
    expect(config.market.simulator.seed).toBe(7);
    expect(config.log.level).toBe('warn');

    await writeFile(join(dir, 'other.json'), JSON.stringify({ SIMULATOR_SEEDS: 1 }));
    expect(problemsOf(() => load({ CRYPTO_RISK_CONFIG: 'other.json' }, dir))).toEqual([
      'config file: unknown setting SIMULATOR_SEEDS',
    ]);
    expect(problemsOf(() => load({ CRYPTO_RISK_CONFIG: 'missing.json' }, dir))[0]).toMatch(/does not exist/);
  });

  it('parses market sources, with the replay asset defaulting to bitcoin', () => {
    expect(parseMarketSource('simulator')).toEqual({ kind: 'simulator' });
    expect(parseMarketSource('replay:data/btc.csv')).toEqual({
      kind: 'replay',
      file: 'data/btc.csv',
      asset: 'bitcoin',
    });
    expect(parseMarketSource('replay:data/eth.csv@ethereum')).toEqual({
      kind: 'replay',
      file: 'data/eth.csv',
      asset: 'ethereum',
    });
    expect(parseMarketSource('replay:')).toBeUndefined();
    expect(parseMarketSource('binance')).toBeUndefined();
    expect(load({ MARKET_SOURCE: 'replay:x.csv@solana' }).market.source).toEqual({
      kind: 'replay',
      file: '/srv/app/x.csv',
      asset: 'solana',
    });
    expect(load({ COINGECKO_API_KEY: 'k' }).market.coingecko.plan).toBe('demo');
  });
});
