import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { durationSchema } from './domain/duration.js';
import { ExitCode, UserError } from './errors.js';
import { coinIdSchema } from './market/record.js';

/**
 * The settings, one zod schema. This module is the only reader of `process.env` (via `loadConfig`,
 * called from the composition root). Every setting has a local default; the README's configuration
 * table lists them. A JSON config file may set the same keys; the environment wins over the file.
 */

export const DEFAULT_ASSETS = ['bitcoin', 'ethereum', 'solana', 'cardano', 'dogecoin'] as const;

export type MarketSourceSetting =
  | { kind: 'auto' }
  | { kind: 'coingecko' }
  | { kind: 'simulator' }
  | { kind: 'replay'; file: string; asset: string };

const SOURCE_HELP = 'auto, coingecko, simulator or replay:FILE[@ASSET]';

/** Parses `auto | coingecko | simulator | replay:FILE[@ASSET]`; the asset defaults to bitcoin. */
export function parseMarketSource(text: string): MarketSourceSetting | undefined {
  const value = text.trim();
  if (value === 'auto' || value === 'coingecko' || value === 'simulator') return { kind: value };
  if (!value.startsWith('replay:')) return undefined;
  const spec = value.slice('replay:'.length);
  const at = spec.lastIndexOf('@');
  const tail = at >= 0 ? spec.slice(at + 1) : '';
  const hasAsset = at > 0 && coinIdSchema.safeParse(tail).success;
  const file = hasAsset ? spec.slice(0, at) : spec;
  if (file === '') return undefined;
  return { kind: 'replay', file, asset: hasAsset ? tail : 'bitcoin' };
}

/*
 * Names that reach SQL, paths or Slack calls match a whole-value pattern as given: no trimming
 * (a stray space or newline is a mistake to report, not to guess at), ASCII only, bounded length.
 */

/** Catalog, schema and volume names: the strict pattern they must match before any SQL uses them. */
const identifier = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,63}$/, { error: 'must be lower-case letters, digits and _ (at most 64)' });

/** A Microsoft Entra ID (application, tenant, object): a GUID in its usual 8-4-4-4-12 form. */
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A service base URL (sovereign clouds, test emulators): http(s), no credentials, query or fragment. */
const serviceUrl = z
  .string()
  .refine((v) => /^https?:\/\/[^/@?#\s]+(?:\/[^?#\s]*)?$/.test(v) && URL.canParse(v), {
    error: 'must be an http(s) URL',
  });

/** An optional pattern-checked setting: empty means not set. */
const optionalPattern = (pattern: RegExp, error: string) =>
  z.preprocess((v) => (v === '' ? undefined : v), z.string().regex(pattern, { error }).optional());

const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

/** An IP address, or a host name of dot-separated labels (digits only: it must be an IPv4 address). */
function isListenAddress(value: string): boolean {
  if (isIP(value) !== 0) return true;
  return value.length <= 253 && HOSTNAME.test(value) && !/^[0-9.]+$/.test(value);
}

/** A workspace URL: http(s), a host and maybe a port; no credentials, path, query or fragment. */
function isWorkspaceUrl(value: string): boolean {
  const match = /^https?:\/\/(?:([^/:[\]]+)|\[([0-9A-Fa-f:.]+)\])(?::(\d{1,5}))?\/?$/.exec(value);
  if (!match) return false;
  const [, name, ipv6, portText] = match;
  const port = portText === undefined ? 443 : Number(portText);
  const hostOk = ipv6 === undefined ? isListenAddress(name as string) : isIP(ipv6) === 6;
  return port >= 1 && port <= 65_535 && hostOk;
}

/** A workspace folder: /Shared or a user's folder, then folders without `.` or `..` segments. */
const WORKSPACE_DIR =
  /^\/(?:Workspace\/)?(?:Shared|Users\/[A-Za-z0-9._%+@-]{1,255})(?:\/[A-Za-z0-9._-]+(?: [A-Za-z0-9._-]+)*)*$/;
const isWorkspaceDir = (value: string) =>
  value.length <= 512 && WORKSPACE_DIR.test(value) && !value.split('/').some((p) => p === '.' || p === '..');

const intIn = (min: number, max: number, what: string) =>
  z.coerce
    .number({ error: `must be ${what}` })
    .int({ error: `must be ${what}` })
    .min(min, { error: `must be ${what}` })
    .max(max, { error: `must be ${what}` });

const optionalText = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

function assetItems(value: unknown): string[] | undefined {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
  return items?.map((s) => String(s).trim().toLowerCase()).filter(Boolean);
}

const assetList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => assetItems(v) ?? [])
  .pipe(
    z
      .array(coinIdSchema, { error: 'must list CoinGecko coin ids, comma-separated (e.g. bitcoin,ethereum)' })
      .min(1, { error: 'must name at least one CoinGecko coin id' })
      .max(250, { error: 'may name at most 250 coin ids (one /coins/markets page)' }),
  );

const cronSchema = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .refine((expr) => cron.validate(expr), {
      error: 'must be a cron expression such as "*/2 * * * *" (minute hour day month weekday, UTC)',
    });

const contaminationSchema = z
  .union([z.literal('auto'), z.coerce.number()])
  .refine((v) => v === 'auto' || (v > 0 && v <= 0.5), { error: 'must be auto or a number in (0, 0.5]' });

/** The raw settings, by their environment names. */
const settingsSchema = z.strictObject({
  DATA_DIR: z.string().trim().min(1).default('./data'),
  DUCKDB_PATH: optionalText,
  MARKET_SOURCE: z
    .string()
    .default('auto')
    .transform((s, ctx) => {
      const parsed = parseMarketSource(s);
      if (!parsed) ctx.addIssue({ code: 'custom', message: `must be ${SOURCE_HELP}` });
      return parsed ?? { kind: 'auto' as const };
    }),
  CRYPTO_ASSETS: assetList.default([...DEFAULT_ASSETS]),
  COINGECKO_API_KEY: optionalText,
  COINGECKO_API_PLAN: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.enum(['demo', 'pro'], { error: 'must be demo or pro' }).optional(),
  ),
  COINGECKO_API_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  COINGECKO_TIMEOUT_MS: intIn(100, 120_000, 'a whole number of milliseconds from 100 to 120000').default(
    10_000,
  ),
  SIMULATOR_SEED: intIn(0, 2 ** 31 - 1, 'a whole number from 0 to 2147483647').default(42),
  SIMULATOR_TICK_SECONDS: intIn(1, 3600, 'a whole number of seconds from 1 to 3600').default(60),
  SIMULATOR_HISTORY_HOURS: intIn(0, 24 * 90, 'a whole number of hours from 0 to 2160').default(24),
  SIMULATOR_SPEED: intIn(1, 3600, 'a whole number from 1 (real time) to 3600').default(1),
  MODEL_FEATURES: z.enum(['seed', 'default'], { error: 'must be seed or default' }).default('default'),
  MODEL_CONTAMINATION: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim() : v),
    // bench/detection: with the alert rule of src/model/reasons.ts, the share that meets its target on real prices
    contaminationSchema.default(0.005),
  ),
  MODEL_TREES: intIn(10, 2000, 'a whole number of trees from 10 to 2000').default(200),
  MODEL_SEED: intIn(0, 2 ** 31 - 1, 'a whole number from 0 to 2147483647').default(42),
  MODEL_PROMOTION: z.enum(['auto', 'manual'], { error: 'must be auto or manual' }).default('auto'),
  TRAIN_LOOKBACK: z.preprocess((v) => v ?? '7d', durationSchema),
  TRAIN_MAX_ROWS: intIn(100, 5_000_000, 'a whole number from 100 to 5000000').default(200_000),
  PIPELINE_GROUP_FILES: intIn(1, 10_000, 'a whole number of files from 1 to 10000').default(500),
  SLACK_BOT_TOKEN: optionalText.pipe(
    z.string().startsWith('xoxb-', { error: 'must be a bot token (it starts with xoxb-)' }).optional(),
  ),
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_APP_TOKEN: optionalText.pipe(
    z.string().startsWith('xapp-', { error: 'must be an app-level token (it starts with xapp-)' }).optional(),
  ),
  SLACK_API_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  SLACK_FEED_CHANNEL: z
    .string()
    .regex(/^#?[a-z0-9][a-z0-9_-]{0,79}$|^[CG][A-Z0-9]{6,20}$/, {
      error: 'must be a channel ID (C…) or a channel name such as crypto-alerts',
    })
    .default('crypto-alerts'),
  SLACK_OPS_USERS: z
    .string()
    .default('')
    // Comma-separated, a space after a comma allowed; nothing else around an ID.
    .transform((v) => (v === '' ? [] : v.split(/, */)))
    .pipe(
      z.array(
        z.string().regex(/^[UW][A-Z0-9]{6,20}$/, { error: 'must list Slack user IDs (U…), comma-separated' }),
      ),
    ),
  SLACK_OPS_USERGROUP: optionalPattern(/^S[A-Z0-9]{6,20}$/, 'must be a user group ID (S…)'),
  PORT: intIn(1, 65_535, 'a port number from 1 to 65535').default(3000),
  METRICS_PORT: z
    .union([z.literal('off'), intIn(1, 65_535, 'a port number from 1 to 65535, or off')], {
      error: 'must be a port number from 1 to 65535, or off',
    })
    .optional(),
  METRICS_HOST: z
    .string()
    .refine(isListenAddress, { error: 'must be an address to listen on, such as 127.0.0.1 or 0.0.0.0' })
    .default('127.0.0.1'),
  READY_MAX_FAILED_RUNS: intIn(1, 1_000, 'a whole number of runs from 1 to 1000').default(3),
  TEAMS_CLIENT_ID: optionalPattern(GUID, "must be the bot's Microsoft Entra application (client) ID, a GUID"),
  TEAMS_CLIENT_SECRET: optionalText,
  TEAMS_TENANT_ID: optionalPattern(GUID, 'must be the Microsoft Entra tenant ID, a GUID'),
  TEAMS_PORT: intIn(1, 65_535, 'a port number from 1 to 65535').default(3978),
  TEAMS_HOST: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .refine(isListenAddress, { error: 'must be an address to listen on, such as 127.0.0.1 or 0.0.0.0' })
      .optional(),
  ),
  TEAMS_PUBLIC_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .refine(isWorkspaceUrl, {
        error: 'must be the https address the bot is reached at, such as https://bot.example.com',
      })
      .optional(),
  ),
  TEAMS_FEED_CONVERSATION: optionalPattern(
    /^[A-Za-z0-9:@._;=-]{1,256}$/,
    'must be a Teams conversation ID such as 19:abc@thread.tacv2',
  ),
  TEAMS_OPS_USERS: z
    .string()
    .default('')
    .transform((v) => (v === '' ? [] : v.split(/, */)))
    .pipe(
      z.array(
        z
          .string()
          .regex(GUID, { error: 'must list Microsoft Entra user object IDs (GUIDs), comma-separated' }),
      ),
    ),
  TEAMS_OPS_GROUP: optionalPattern(GUID, 'must be a Microsoft Entra group object ID, a GUID'),
  TEAMS_LOGIN_URL: serviceUrl.default('https://login.microsoftonline.com'),
  TEAMS_OPENID_METADATA_URL: serviceUrl.default(
    'https://login.botframework.com/v1/.well-known/openidconfiguration',
  ),
  TEAMS_SERVICE_URL: serviceUrl.default('https://smba.trafficmanager.net/teams/'),
  TEAMS_GRAPH_URL: serviceUrl.default('https://graph.microsoft.com'),
  CHAT_SURFACE: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .transform((v) => v.split(/, */))
      .pipe(
        z
          .array(
            z.enum(['slack', 'teams', 'console'], {
              error: 'must list slack, teams or console, comma-separated',
            }),
          )
          .refine((list) => new Set(list).size === list.length, {
            error: 'must list slack, teams or console, comma-separated',
          })
          .refine((list) => !(list.includes('slack') && list.includes('console')), {
            error:
              'must list slack, teams or console, comma-separated (console stands in for slack: not both)',
          }),
      )
      .optional(),
  ),
  CONSOLE_HOST: z
    .string()
    .refine(isListenAddress, { error: 'must be an address to listen on, such as 127.0.0.1 or 0.0.0.0' })
    .default('127.0.0.1'),
  CONSOLE_SLACK_MODE: z
    .enum(['http', 'socket'], { error: 'must be http (signed requests) or socket (Socket Mode)' })
    .default('http'),
  CONSOLE_HISTORY_MESSAGES: intIn(10, 100_000, 'a whole number of messages from 10 to 100000').default(1000),
  DATABRICKS_HOST: z
    .string()
    .refine(isWorkspaceUrl, {
      error: 'must be the workspace URL, e.g. https://dbc-1234.cloud.databricks.com',
    })
    .optional(),
  DATABRICKS_TOKEN: optionalText,
  DATABRICKS_CLIENT_ID: optionalText,
  DATABRICKS_CLIENT_SECRET: optionalText,
  DATABRICKS_WAREHOUSE_ID: optionalPattern(
    /^[a-z0-9]{8,32}$/,
    'must be a SQL warehouse ID (lower-case letters and digits)',
  ),
  DATABRICKS_CATALOG: identifier.default('workspace'),
  DATABRICKS_SCHEMA: identifier.default('crypto'),
  DATABRICKS_VOLUME: identifier.default('landing'),
  DATABRICKS_WORKSPACE_DIR: z
    .string()
    .refine(isWorkspaceDir, { error: 'must be a workspace folder such as /Shared/crypto-risk-monitor' })
    .default('/Shared/crypto-risk-monitor'),
  DATABRICKS_SQL_CA_CERT: optionalText,
  DATABRICKS_SQL_TIMEOUT_SECONDS: intIn(5, 3600, 'a whole number of seconds from 5 to 3600').default(120),
  SCHEDULE_FEED: cronSchema('* * * * *'),
  SCHEDULE_INGEST: cronSchema('*/2 * * * *'),
  SCHEDULE_PIPELINE: cronSchema('* * * * *'),
  SCHEDULE_INFER: cronSchema('*/10 * * * *'),
  SCHEDULE_TRAIN: cronSchema('0 3 * * *'),
  LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
      error: 'must be one of trace, debug, info, warn, error, fatal, silent',
    })
    .default('info'),
  LOG_FORMAT: z.enum(['pretty', 'json'], { error: 'must be pretty or json' }).default('pretty'),
});

const SETTING_NAMES = Object.keys(settingsSchema.shape) as Array<keyof typeof settingsSchema.shape>;

export interface ModelSettings {
  featureSet: 'seed' | 'default';
  contamination: 'auto' | number;
  trees: number;
  seed: number;
  promotion: 'auto' | 'manual';
  /** Training looks back this far from the clock (ms). */
  lookbackMs: number;
  /** At most this many (most recent) Gold windows train a model. */
  maxRows: number;
}

export interface SlackSettings {
  botToken: string;
  /** Verifies Slack's requests in HTTP mode. */
  signingSecret?: string;
  /** App-level token: Socket Mode when set. */
  appToken?: string;
  apiUrl?: string;
  /** The anomaly feed: where it posts, and how. */
  feed: FeedSettings;
  /** Who may run ops actions: these user IDs, and members of this user group. */
  opsUsers: string[];
  opsUsergroup?: string;
}

/** The chat surfaces `run` starts (CHAT_SURFACE). */
export type ChatSurfaceName = 'slack' | 'teams' | 'console';

/** The Microsoft Teams bot (src/teams). */
export interface TeamsSettings {
  /**
   * The bot's Entra app registration (single-tenant): every request needs a valid Bot Framework
   * token when set; absent, the bot accepts unauthenticated requests on loopback only (local tools).
   */
  credentials?: { clientId: string; clientSecret: string; tenantId: string };
  port: number;
  /** Address it listens on: loopback without credentials, every address with them (unless set). */
  host: string;
  /** The base URL Teams clients load chart images from (`<publicUrl>/charts/<sha256>.png`), no trailing slash. */
  publicUrl: string;
  /** The feed's conversation; else the one recorded when the app was installed in a team. */
  feedConversation?: string;
  /** Who may run ops actions: these Entra object IDs, and members of this Entra group. */
  opsUsers: string[];
  opsGroup?: string;
  /** Entra's token endpoint base (`<loginUrl>/<tenant>/oauth2/v2.0/token`). */
  loginUrl: string;
  /** The Bot Connector's OpenID metadata, for the keys its tokens are signed with. */
  openIdMetadataUrl: string;
  /** Where proactive messages (the feed) go before any activity named a service URL. */
  serviceUrl: string;
  /** Microsoft Graph, for the ops group's membership. */
  graphUrl: string;
}

/** The anomaly feed's settings (its flow is src/slack/feed.ts). */
export interface FeedSettings {
  /** Channel ID or name. */
  channel: string;
}

/** The local console: the chat surface when no Slack app is configured. */
export interface ConsoleSettings {
  /** Address it listens on: loopback unless set otherwise (it has no login). */
  host: string;
  port: number;
  /** How the console's Slack reaches the bot: signed HTTP requests, or Socket Mode. */
  slackMode: 'http' | 'socket';
  /** Where its workspace is kept across restarts; undefined: in memory (an in-memory database). */
  stateDir?: string;
  /**
   * Messages each conversation keeps, replies counted (CONSOLE_HISTORY_MESSAGES); beyond it the
   * oldest threads go first. Undefined: no bound.
   */
  historyMessages?: number;
  feed: FeedSettings;
  opsUsers: string[];
  opsUsergroup?: string;
}

/** The console's ops team when none is configured: its user group @crypto-ops (ops-alice, ops-carol). */
export const CONSOLE_OPS_USERGROUP = 'S0CRYPTOOPS';

export interface DatabricksSettings {
  host: string;
  auth: { kind: 'token'; token: string } | { kind: 'oauth'; clientId: string; clientSecret: string };
  warehouseId: string;
  catalog: string;
  schema: string;
  volume: string;
  /** Where the notebooks go in the workspace. */
  workspaceDir: string;
  /** PEM of a CA to trust for the SQL warehouse's TLS (a corporate proxy; test warehouses). */
  sqlCaCert?: string;
  sqlTimeoutSeconds: number;
}

export interface Config {
  dataDir: string;
  dbPath: string;
  landingDir: string;
  /** Landing files the pipeline takes in one transaction at most. */
  pipelineGroupFiles: number;
  market: {
    source: MarketSourceSetting;
    assets: string[];
    coingecko: {
      plan: 'public' | 'demo' | 'pro';
      apiKey?: string;
      baseUrl?: string;
      timeoutMs: number;
    };
    simulator: { seed: number; tickSeconds: number; historyHours: number; speed: number };
  };
  model: ModelSettings;
  /** Cron expressions (UTC) of the scheduled jobs. */
  schedule: { ingest: string; pipeline: string; infer: string; train: string; feed: string };
  /** The Slack app; absent without credentials (the local console stands in). */
  slack?: SlackSettings;
  /** The local console, when there is no Slack app. */
  console?: ConsoleSettings;
  /** The Microsoft Teams bot, when CHAT_SURFACE includes teams. */
  teams?: TeamsSettings;
  /** The chat surfaces `run` starts, in this order. */
  chatSurfaces: ChatSurfaceName[];
  /** HTTP port for Slack requests (or the console), /healthz and /readyz. */
  port: number;
  /**
   * Prometheus metrics of `run` (METRICS_PORT, METRICS_HOST); absent when METRICS_PORT=off.
   * `explicit`: the port was set, so a port in use stops the start (the default's only warns).
   */
  metrics?: { host: string; port: number; explicit: boolean };
  /** /readyz refuses once a job has failed more than this many runs in a row. */
  readyMaxFailedRuns: number;
  /** The real deployment; absent for the embedded default. */
  databricks?: DatabricksSettings;
  log: { level: string; format: 'pretty' | 'json' };
}

export interface LoadConfigInput {
  env: Record<string, string | undefined>;
  cwd: string;
  /** Values from the command line (e.g. --db), applied over the environment. */
  overrides?: Partial<Record<(typeof SETTING_NAMES)[number], string>>;
}

export class ConfigError extends UserError {
  readonly problems: string[];
  constructor(problems: string[]) {
    const n = problems.length;
    super(
      `The configuration has ${n} problem${n === 1 ? '' : 's'}; nothing was started:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { exitCode: ExitCode.Usage },
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads the optional JSON config file: CRYPTO_RISK_CONFIG, else ./crypto-risk.config.json if present. */
function readConfigFile(
  env: LoadConfigInput['env'],
  cwd: string,
): { values: Record<string, unknown>; problems: string[] } {
  const explicit = env.CRYPTO_RISK_CONFIG?.trim();
  const path = resolve(cwd, explicit || 'crypto-risk.config.json');
  if (!existsSync(path)) {
    return { values: {}, problems: explicit ? [`CRYPTO_RISK_CONFIG: the file ${path} does not exist`] : [] };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    return {
      values: {},
      problems: [
        `config file ${path}: cannot be read (${code}); point CRYPTO_RISK_CONFIG at a readable file`,
      ],
    };
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { values: {}, problems: [`config file ${path}: must be a JSON object of settings`] };
    }
    return { values: parsed as Record<string, unknown>, problems: [] };
  } catch (err) {
    // JSON.parse's message quotes a piece of the text, which may be a secret: say where, not what.
    return { values: {}, problems: [`config file ${path}: not valid JSON${jsonErrorPlace(text, err)}`] };
  }
}

/** " at line L, column C" of a JSON.parse error, from the offset its message gives ('' if none). */
export function jsonErrorPlace(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return ` at line ${lineColumn[1]}, column ${lineColumn[2]}`;
  const offset = jsonErrorOffset(text, message);
  if (offset !== undefined) {
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    return ` at line ${line}, column ${column}`;
  }
  if (/unexpected end of json input/i.test(message)) return ' (it ends too early)';
  return '';
}

/**
 * Where in the text JSON.parse failed: "at position N", or worked back from the piece of text V8
 * quotes for an unexpected token (up to ten characters either side, "..." where it cut).
 */
function jsonErrorOffset(text: string, message: string): number | undefined {
  const position = /at position (\d+)/.exec(message);
  if (position) return Number(position[1]);
  const quoted = /^Unexpected token '[\s\S]', (\.\.\.)?"([\s\S]*?)"(\.\.\.)? is not valid JSON$/.exec(
    message,
  );
  if (!quoted) return undefined;
  const [, cutBefore, piece = '', cutAfter] = quoted;
  if (cutBefore) {
    const at = text.indexOf(piece);
    return at < 0 ? undefined : at + 10;
  }
  if (cutAfter) return Math.max(0, piece.length - 10);
  return undefined;
}

/**
 * Builds the configuration from the environment, the optional config file and command-line
 * overrides. Throws a ConfigError that lists every problem at once; values are never echoed.
 */
export function loadConfig(input: LoadConfigInput): Config {
  const file = readConfigFile(input.env, input.cwd);
  const raw: Record<string, unknown> = { ...file.values };
  for (const name of SETTING_NAMES) {
    const value = input.env[name];
    if (value !== undefined) raw[name] = value;
  }
  for (const [name, value] of Object.entries(input.overrides ?? {})) {
    if (value !== undefined) raw[name] = value;
  }
  const result = settingsSchema.safeParse(raw);
  const problems = [...file.problems];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path[0];
      if (issue.code === 'unrecognized_keys') {
        problems.push(
          `config file: unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`,
        );
      } else if (key === 'CRYPTO_ASSETS' && typeof issue.path[1] === 'number') {
        const item = (assetItems(raw.CRYPTO_ASSETS) ?? [])[issue.path[1]];
        problems.push(`CRYPTO_ASSETS: "${item}" is not ${issue.message}`);
      } else {
        problems.push(`${String(key)}: ${issue.message}`);
      }
    }
  }
  const s = result.data;
  if (raw.COINGECKO_API_PLAN === 'pro' && !String(raw.COINGECKO_API_KEY ?? '').trim()) {
    problems.push('COINGECKO_API_PLAN: pro needs COINGECKO_API_KEY to be set');
  }
  const has = (name: string) => String(raw[name] ?? '').trim() !== '';
  if (has('SLACK_BOT_TOKEN') && !has('SLACK_SIGNING_SECRET') && !has('SLACK_APP_TOKEN')) {
    problems.push(
      'SLACK_SIGNING_SECRET: needed with SLACK_BOT_TOKEN to verify Slack requests (or set SLACK_APP_TOKEN for Socket Mode)',
    );
  }
  if (!has('SLACK_BOT_TOKEN') && (has('SLACK_SIGNING_SECRET') || has('SLACK_APP_TOKEN'))) {
    problems.push('SLACK_BOT_TOKEN: needed when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set');
  }
  if (has('DATABRICKS_HOST')) {
    if (!has('DATABRICKS_TOKEN') && !(has('DATABRICKS_CLIENT_ID') && has('DATABRICKS_CLIENT_SECRET'))) {
      problems.push(
        'DATABRICKS_TOKEN: needed with DATABRICKS_HOST (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET of a service principal)',
      );
    }
    if (!has('DATABRICKS_WAREHOUSE_ID'))
      problems.push('DATABRICKS_WAREHOUSE_ID: needed with DATABRICKS_HOST (the SQL warehouse for reads)');
  } else {
    for (const name of [
      'DATABRICKS_TOKEN',
      'DATABRICKS_CLIENT_ID',
      'DATABRICKS_CLIENT_SECRET',
      'DATABRICKS_WAREHOUSE_ID',
    ]) {
      if (has(name)) problems.push(`${name}: set DATABRICKS_HOST too (the workspace URL), or remove it`);
    }
  }
  const teamsCredentials = ['TEAMS_CLIENT_ID', 'TEAMS_CLIENT_SECRET', 'TEAMS_TENANT_ID'];
  const teamsSet = teamsCredentials.filter(has);
  if (teamsSet.length > 0 && teamsSet.length < 3) {
    for (const name of teamsCredentials.filter((n) => !has(n)))
      problems.push(
        `${name}: needed with ${teamsSet.join(' and ')} (the bot's single-tenant app registration: client ID, client secret and tenant ID together)`,
      );
  }
  const surfaces = s?.CHAT_SURFACE;
  if (surfaces?.includes('slack') && !has('SLACK_BOT_TOKEN'))
    problems.push('CHAT_SURFACE: slack needs SLACK_BOT_TOKEN (or list console for the local stand-in)');
  if (surfaces?.includes('console') && has('SLACK_BOT_TOKEN'))
    problems.push('CHAT_SURFACE: console is the stand-in for Slack; with SLACK_BOT_TOKEN set, list slack');
  if (
    teamsSet.length === 3 &&
    has('TEAMS_PUBLIC_URL') &&
    !String(raw.TEAMS_PUBLIC_URL).startsWith('https://')
  )
    problems.push(
      'TEAMS_PUBLIC_URL: must be an https address when the bot is registered (Teams loads card images over https only)',
    );
  const speed = Number(raw.SIMULATOR_SPEED ?? 1);
  if (speed > 1 && parseMarketSource(String(raw.MARKET_SOURCE ?? 'auto'))?.kind !== 'simulator') {
    problems.push(
      'SIMULATOR_SPEED: only the simulator can run faster than real time; set MARKET_SOURCE=simulator',
    );
  }
  if (problems.length > 0 || !s) throw new ConfigError(problems);

  const dataDir = resolve(input.cwd, s.DATA_DIR);
  // Default surfaces: what has credentials, else the local console.
  const chatSurfaces: ChatSurfaceName[] = s.CHAT_SURFACE ?? [
    ...(s.SLACK_BOT_TOKEN ? (['slack'] as const) : []),
    ...(s.TEAMS_CLIENT_ID ? (['teams'] as const) : []),
  ];
  if (chatSurfaces.length === 0) chatSurfaces.push('console');
  const source = s.MARKET_SOURCE;
  const feed: FeedSettings = {
    channel: s.SLACK_FEED_CHANNEL.replace('#', ''), // only ever its first character
  };
  return {
    dataDir,
    dbPath:
      s.DUCKDB_PATH === ':memory:'
        ? ':memory:'
        : s.DUCKDB_PATH
          ? resolve(input.cwd, s.DUCKDB_PATH)
          : resolve(dataDir, 'crypto.duckdb'),
    landingDir: resolve(dataDir, 'landing'),
    pipelineGroupFiles: s.PIPELINE_GROUP_FILES,
    market: {
      source: source.kind === 'replay' ? { ...source, file: resolve(input.cwd, source.file) } : source,
      assets: s.CRYPTO_ASSETS,
      coingecko: {
        plan: s.COINGECKO_API_KEY ? (s.COINGECKO_API_PLAN ?? 'demo') : 'public',
        apiKey: s.COINGECKO_API_KEY,
        baseUrl: s.COINGECKO_API_URL,
        timeoutMs: s.COINGECKO_TIMEOUT_MS,
      },
      simulator: {
        seed: s.SIMULATOR_SEED,
        tickSeconds: s.SIMULATOR_TICK_SECONDS,
        historyHours: s.SIMULATOR_HISTORY_HOURS,
        speed: s.SIMULATOR_SPEED,
      },
    },
    model: {
      featureSet: s.MODEL_FEATURES,
      contamination: s.MODEL_CONTAMINATION,
      trees: s.MODEL_TREES,
      seed: s.MODEL_SEED,
      promotion: s.MODEL_PROMOTION,
      lookbackMs: s.TRAIN_LOOKBACK,
      maxRows: s.TRAIN_MAX_ROWS,
    },
    schedule: {
      ingest: s.SCHEDULE_INGEST,
      pipeline: s.SCHEDULE_PIPELINE,
      infer: s.SCHEDULE_INFER,
      train: s.SCHEDULE_TRAIN,
      feed: s.SCHEDULE_FEED,
    },
    slack: s.SLACK_BOT_TOKEN
      ? {
          botToken: s.SLACK_BOT_TOKEN,
          signingSecret: s.SLACK_SIGNING_SECRET,
          appToken: s.SLACK_APP_TOKEN,
          apiUrl: s.SLACK_API_URL,
          feed,
          opsUsers: s.SLACK_OPS_USERS,
          opsUsergroup: s.SLACK_OPS_USERGROUP,
        }
      : undefined,
    console: s.SLACK_BOT_TOKEN
      ? undefined
      : {
          host: s.CONSOLE_HOST,
          port: s.PORT,
          slackMode: s.CONSOLE_SLACK_MODE,
          stateDir: s.DUCKDB_PATH === ':memory:' ? undefined : resolve(dataDir, 'console'),
          historyMessages: s.CONSOLE_HISTORY_MESSAGES,
          feed,
          opsUsers: s.SLACK_OPS_USERS,
          opsUsergroup:
            s.SLACK_OPS_USERGROUP ?? (s.SLACK_OPS_USERS.length > 0 ? undefined : CONSOLE_OPS_USERGROUP),
        },
    chatSurfaces,
    teams: chatSurfaces.includes('teams') ? teamsSettings(s) : undefined,
    port: s.PORT,
    metrics:
      s.METRICS_PORT === 'off'
        ? undefined
        : { host: s.METRICS_HOST, port: s.METRICS_PORT ?? 9464, explicit: s.METRICS_PORT !== undefined },
    readyMaxFailedRuns: s.READY_MAX_FAILED_RUNS,
    databricks:
      s.DATABRICKS_HOST && s.DATABRICKS_WAREHOUSE_ID
        ? {
            host: s.DATABRICKS_HOST.replace(/\/$/, ''),
            auth: s.DATABRICKS_TOKEN
              ? { kind: 'token', token: s.DATABRICKS_TOKEN }
              : {
                  kind: 'oauth',
                  clientId: s.DATABRICKS_CLIENT_ID as string,
                  clientSecret: s.DATABRICKS_CLIENT_SECRET as string,
                },
            warehouseId: s.DATABRICKS_WAREHOUSE_ID,
            catalog: s.DATABRICKS_CATALOG,
            schema: s.DATABRICKS_SCHEMA,
            volume: s.DATABRICKS_VOLUME,
            workspaceDir: s.DATABRICKS_WORKSPACE_DIR.replace(/^\/Workspace/, ''),
            sqlCaCert: s.DATABRICKS_SQL_CA_CERT ? resolve(input.cwd, s.DATABRICKS_SQL_CA_CERT) : undefined,
            sqlTimeoutSeconds: s.DATABRICKS_SQL_TIMEOUT_SECONDS,
          }
        : undefined,
    log: { level: s.LOG_LEVEL, format: s.LOG_FORMAT },
  };
}

type ParsedSettings = z.output<typeof settingsSchema>;

/**
 * What `teams-package` takes from the settings: the bot's app ID and public URL, checked as `run`
 * checks them, without the rest of the Teams settings (packaging needs no secret).
 */
export function teamsPackageDefaults(input: LoadConfigInput): { botId?: string; publicUrl?: string } {
  const file = readConfigFile(input.env, input.cwd);
  const pick = (name: 'TEAMS_CLIENT_ID' | 'TEAMS_PUBLIC_URL') => input.env[name] ?? file.values[name];
  const problems = [...file.problems];
  const botId = settingsSchema.shape.TEAMS_CLIENT_ID.safeParse(pick('TEAMS_CLIENT_ID'));
  const publicUrl = settingsSchema.shape.TEAMS_PUBLIC_URL.safeParse(pick('TEAMS_PUBLIC_URL'));
  if (!botId.success) problems.push(`TEAMS_CLIENT_ID: ${botId.error.issues[0]?.message}`);
  if (!publicUrl.success) problems.push(`TEAMS_PUBLIC_URL: ${publicUrl.error.issues[0]?.message}`);
  if (problems.length > 0 || !botId.success || !publicUrl.success) throw new ConfigError(problems);
  return {
    ...(botId.data ? { botId: botId.data } : {}),
    ...(publicUrl.data ? { publicUrl: publicUrl.data } : {}),
  };
}

/**
 * The Entra object id of Microsoft 365 Agents Playground's default user (Alex Wilber): the local
 * Teams bot's ops user when none is configured, as the console's @crypto-ops group is for Slack.
 */
export const AGENTS_PLAYGROUND_USER = '00000000-0000-0000-0000-0000000000020';

/** The Teams bot's settings: loopback and unauthenticated without credentials (see TeamsSettings). */
function teamsSettings(s: ParsedSettings): TeamsSettings {
  const credentials =
    s.TEAMS_CLIENT_ID && s.TEAMS_CLIENT_SECRET && s.TEAMS_TENANT_ID
      ? { clientId: s.TEAMS_CLIENT_ID, clientSecret: s.TEAMS_CLIENT_SECRET, tenantId: s.TEAMS_TENANT_ID }
      : undefined;
  const host = s.TEAMS_HOST ?? (credentials ? '0.0.0.0' : '127.0.0.1');
  return {
    ...(credentials ? { credentials } : {}),
    port: s.TEAMS_PORT,
    host,
    publicUrl: (s.TEAMS_PUBLIC_URL ?? `http://127.0.0.1:${s.TEAMS_PORT}`).replace(/\/$/, ''),
    ...(s.TEAMS_FEED_CONVERSATION ? { feedConversation: s.TEAMS_FEED_CONVERSATION } : {}),
    opsUsers:
      !credentials && s.TEAMS_OPS_USERS.length === 0 && !s.TEAMS_OPS_GROUP
        ? [AGENTS_PLAYGROUND_USER]
        : s.TEAMS_OPS_USERS.map((id) => id.toLowerCase()),
    ...(s.TEAMS_OPS_GROUP ? { opsGroup: s.TEAMS_OPS_GROUP.toLowerCase() } : {}),
    loginUrl: s.TEAMS_LOGIN_URL.replace(/\/+$/, ''),
    openIdMetadataUrl: s.TEAMS_OPENID_METADATA_URL,
    serviceUrl: s.TEAMS_SERVICE_URL,
    graphUrl: s.TEAMS_GRAPH_URL.replace(/\/+$/, ''),
  };
}
