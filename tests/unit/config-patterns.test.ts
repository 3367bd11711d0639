import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { type Config, ConfigError, loadConfig } from '../../src/config.js';

/** A Databricks deployment, so that its settings are read (each case sets one over these). */
const DATABRICKS = {
  DATABRICKS_HOST: 'https://dbc-1234.cloud.databricks.com',
  DATABRICKS_TOKEN: 'dapi-test',
  DATABRICKS_WAREHOUSE_ID: 'abcdef0123456789',
};

function load(env: Record<string, string>): Config {
  return loadConfig({ env: { LOG_LEVEL: 'silent', ...DATABRICKS, ...env }, cwd: tmpdir() });
}

function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** Values no identifier setting may take: injection, whitespace, look-alikes, traversal. */
const HOSTILE_EVERYWHERE = [
  'workspace; DROP SCHEMA crypto --',
  "crypto' OR '1'='1",
  'crypto\n',
  'crypto\r\n',
  ' crypto',
  'crypto ',
  '\tcrypto',
  'cr\u0443pto', // Cyrillic у
  'сrypto', // Cyrillic с
  'crypto\u200b', // zero-width space
  'ｃｒｙｐｔｏ', // full-width
  '../crypto',
  'crypto/../x',
  'a/b',
  '$(id)',
  '`id`',
  'crypto\u0000',
];

interface Case {
  name: string;
  message: string;
  /** Accepted values, and what the setting then is. */
  accepts: Array<[string, (c: Config) => unknown, unknown]>;
  refuses: string[];
  /** Other settings it needs to be read. */
  env?: Record<string, string>;
}

const identifierMessage = 'must be lower-case letters, digits and _ (at most 64)';
const identifierCase = (name: string, read: (c: Config) => unknown): Case => ({
  name,
  message: identifierMessage,
  accepts: [
    ['workspace', read, 'workspace'],
    ['_x', read, '_x'],
    ['a0_9', read, 'a0_9'],
    [`a${'b'.repeat(63)}`, read, `a${'b'.repeat(63)}`],
  ],
  refuses: [
    '',
    `a${'b'.repeat(64)}`,
    '0abc',
    'Workspace',
    'work-space',
    'work.space',
    'main.crypto',
    '..',
    'crypto;',
    'x y',
  ],
});

const CASES: Case[] = [
  identifierCase('DATABRICKS_CATALOG', (c) => c.databricks?.catalog),
  identifierCase('DATABRICKS_SCHEMA', (c) => c.databricks?.schema),
  identifierCase('DATABRICKS_VOLUME', (c) => c.databricks?.volume),
  {
    name: 'DATABRICKS_WAREHOUSE_ID',
    message: 'must be a SQL warehouse ID (lower-case letters and digits)',
    accepts: [
      ['abcdef01', (c) => c.databricks?.warehouseId, 'abcdef01'],
      ['a'.repeat(32), (c) => c.databricks?.warehouseId, 'a'.repeat(32)],
    ],
    refuses: ['abcdef0', 'a'.repeat(33), 'ABCDEF0123456789', 'abcdef01-2345', 'abcdef01 ', 'abcdef01\n'],
  },
  {
    name: 'DATABRICKS_WORKSPACE_DIR',
    message: 'must be a workspace folder such as /Shared/crypto-risk-monitor',
    accepts: [
      ['/Shared', (c) => c.databricks?.workspaceDir, '/Shared'],
      ['/Shared/crypto-risk-monitor', (c) => c.databricks?.workspaceDir, '/Shared/crypto-risk-monitor'],
      ['/Workspace/Shared/a.b_c', (c) => c.databricks?.workspaceDir, '/Shared/a.b_c'],
      ['/Shared/Workspace/x', (c) => c.databricks?.workspaceDir, '/Shared/Workspace/x'],
      [
        '/Users/ana+ops@example.com/My Folder',
        (c) => c.databricks?.workspaceDir,
        '/Users/ana+ops@example.com/My Folder',
      ],
      [`/Shared/${'a'.repeat(504)}`, (c) => c.databricks?.workspaceDir?.length, 512],
    ],
    refuses: [
      '',
      'Shared/x',
      '/shared/x',
      '/Shared/',
      '/Shared//x',
      '/Shared/..',
      '/Shared/../Users/x',
      '/Shared/./x',
      '/Users/..',
      '/Users/../x',
      '/Users/',
      '/Users/a\nb',
      '/Users/a b',
      '/Users/a;b',
      '/Workspace/Workspace/Shared',
      '/Other/x',
      '/Shared/x ',
      '/Shared/ x',
      '/Shared/a  b',
      '/Shared/x\n',
      '/Shared/x;rm -rf',
      `/Shared/${'a'.repeat(505)}`,
      `/Users/${'a'.repeat(256)}`,
    ],
  },
  {
    name: 'SLACK_FEED_CHANNEL',
    message: 'must be a channel ID (C…) or a channel name such as crypto-alerts',
    accepts: [
      ['crypto-alerts', (c) => c.console?.feed.channel, 'crypto-alerts'],
      ['#ops_feed-2', (c) => c.console?.feed.channel, 'ops_feed-2'],
      ['C0CRYPTO1', (c) => c.console?.feed.channel, 'C0CRYPTO1'],
      ['G012345', (c) => c.console?.feed.channel, 'G012345'],
      [`a${'b'.repeat(79)}`, (c) => c.console?.feed.channel, `a${'b'.repeat(79)}`],
    ],
    refuses: [
      '',
      '#',
      '##crypto',
      '-crypto',
      '_crypto',
      'Crypto-Alerts',
      'crypto.alerts',
      'crypto..alerts',
      `a${'b'.repeat(80)}`,
      'C01234',
      `C${'0'.repeat(21)}`,
      'D0123456',
      'C0crypto1',
      'XC0CRYPTO1',
      '#C0CRYPTO1',
      'C0CRYPTO1 ',
      '<#C0CRYPTO1>',
    ],
  },
  {
    name: 'SLACK_OPS_USERS',
    message: 'must list Slack user IDs (U…), comma-separated',
    accepts: [
      ['', (c) => c.console?.opsUsers, []],
      ['U0OPS01', (c) => c.console?.opsUsers, ['U0OPS01']],
      ['U0OPS01,W0OPS02', (c) => c.console?.opsUsers, ['U0OPS01', 'W0OPS02']],
      ['U0OPS01, U0OPS02', (c) => c.console?.opsUsers, ['U0OPS01', 'U0OPS02']],
      [`U${'0'.repeat(20)}`, (c) => c.console?.opsUsers, [`U${'0'.repeat(20)}`]],
    ],
    refuses: [
      'U01234',
      `U${'0'.repeat(21)}`,
      'u0ops01',
      'S0CRYPTOOPS',
      'U0OPS01,',
      ',U0OPS01',
      'U0OPS01,,U0OPS02',
      'U0OPS01 ,U0OPS02',
      'U0OPS01;U0OPS02',
      'U0OPS01\nU0OPS02',
      '<@U0OPS01>',
      '*',
    ],
  },
  {
    name: 'SLACK_OPS_USERGROUP',
    message: 'must be a user group ID (S…)',
    accepts: [
      ['S0CRYPTOOPS', (c) => c.console?.opsUsergroup, 'S0CRYPTOOPS'],
      [`S${'A'.repeat(20)}`, (c) => c.console?.opsUsergroup, `S${'A'.repeat(20)}`],
    ],
    refuses: [
      'S01234',
      `S${'A'.repeat(21)}`,
      's0cryptoops',
      'U0CRYPTOOPS',
      '@crypto-ops',
      'S0CRYPTOOPS,S0OTHER1',
    ],
  },
  {
    name: 'CONSOLE_HOST',
    message: 'must be an address to listen on, such as 127.0.0.1 or 0.0.0.0',
    accepts: [
      ['127.0.0.1', (c) => c.console?.host, '127.0.0.1'],
      ['0.0.0.0', (c) => c.console?.host, '0.0.0.0'],
      ['::1', (c) => c.console?.host, '::1'],
      ['localhost', (c) => c.console?.host, 'localhost'],
      ['my-box.lan', (c) => c.console?.host, 'my-box.lan'],
      ['box-1', (c) => c.console?.host, 'box-1'],
      ['1e100.net', (c) => c.console?.host, '1e100.net'],
      [
        `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`,
        (c) => c.console?.host?.length,
        253,
      ],
    ],
    refuses: [
      '',
      '-',
      '..',
      '.',
      'localhost.',
      '.localhost',
      'my_box',
      '-box',
      'box-',
      'a..b',
      '::::1',
      '999.1.1.1',
      '1.2.3',
      `${'a'.repeat(64)}.lan`,
      `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`,
      'fe80::1%;rm',
      '127.0.0.1:3000',
      'http://127.0.0.1',
      'my host; rm -rf',
    ],
  },
  {
    name: 'DATABRICKS_HOST',
    message: 'must be the workspace URL, e.g. https://dbc-1234.cloud.databricks.com',
    accepts: [
      [
        'https://dbc-1234.cloud.databricks.com',
        (c) => c.databricks?.host,
        'https://dbc-1234.cloud.databricks.com',
      ],
      [
        'https://dbc-1234.cloud.databricks.com/',
        (c) => c.databricks?.host,
        'https://dbc-1234.cloud.databricks.com',
      ],
      ['http://127.0.0.1:8080', (c) => c.databricks?.host, 'http://127.0.0.1:8080'],
      ['http://[::1]:65535', (c) => c.databricks?.host, 'http://[::1]:65535'],
      ['https://localhost:1', (c) => c.databricks?.host, 'https://localhost:1'],
    ],
    refuses: [
      'dbc-1234.cloud.databricks.com',
      'ftp://dbc-1234.cloud.databricks.com',
      'javascript:alert(1)',
      'xhttps://dbc-1234.cloud.databricks.com',
      ' https://dbc-1234.cloud.databricks.com',
      'https://dbc-1234.cloud.databricks.com\n',
      'https://[1.2.3.4]',
      'https://',
      'https://u:p@dbc-1234.cloud.databricks.com',
      'https://dbc-1234.cloud.databricks.com/../x',
      'https://dbc-1234.cloud.databricks.com/x',
      'https://dbc-1234.cloud.databricks.com//',
      'https://dbc-1234.cloud.databricks.com/?q=1',
      'https://dbc-1234.cloud.databricks.com?q=1',
      'https://dbc-1234.cloud.databricks.com#x',
      'https://dbc-1234.cloud.databricks.com:0',
      'https://dbc-1234.cloud.databricks.com:65536',
      'https://dbc-1234.cloud.databricks.com:123456',
      'https://dbc-1234.cloud.databricks.com:000443',
      'https://dbc-1234.cloud.databricks.com:',
      'https://[not-ip]:443',
      'https://dbc_1234.cloud.databricks.com',
      'https://999.1.1.1',
      `https://${'a'.repeat(64)}.com`,
      'HTTPS://dbc-1234.cloud.databricks.com',
    ],
  },
];

const SLACK_APP = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret' };
const urlCase = (name: string, read: (c: Config) => unknown, env?: Record<string, string>): Case => ({
  name,
  message: 'must be an http(s) URL',
  ...(env ? { env } : {}),
  accepts: [
    ['http://127.0.0.1:1234/api/', read, 'http://127.0.0.1:1234/api/'],
    ['https://example.com', read, 'https://example.com'],
  ],
  refuses: ['ftp://example.com', 'httpx://example.com', 'xhttp://example.com', 'example.com', ''],
});

CASES.push(
  urlCase('COINGECKO_API_URL', (c) => c.market.coingecko.baseUrl),
  urlCase('SLACK_API_URL', (c) => c.slack?.apiUrl, SLACK_APP),
  {
    name: 'SLACK_BOT_TOKEN',
    message: 'must be a bot token (it starts with xoxb-)',
    env: { SLACK_SIGNING_SECRET: 'secret' },
    accepts: [['xoxb-1-abc', (c) => c.slack?.botToken, 'xoxb-1-abc']],
    refuses: ['xoxp-1-abc', 'XOXB-1', 'xapp-1', 'a-xoxb-1'],
  },
  {
    name: 'SLACK_APP_TOKEN',
    message: 'must be an app-level token (it starts with xapp-)',
    env: { SLACK_BOT_TOKEN: 'xoxb-1' },
    accepts: [['xapp-1-abc', (c) => c.slack?.appToken, 'xapp-1-abc']],
    refuses: ['xoxb-1-abc', 'XAPP-1', 'a-xapp-1'],
  },
);

describe.each(CASES)('$name', ({ name, message, accepts, refuses, env = {} }) => {
  it.each(accepts)('accepts %j', (value, read, expected) => {
    expect(read(load({ ...env, [name]: value }))).toEqual(expected);
  });

  it.each([...refuses, ...HOSTILE_EVERYWHERE])('refuses %j, naming only the setting', (value) => {
    expect(problemsOf({ ...env, [name]: value })).toEqual([`${name}: ${message}`]);
  });
});

describe('defaults and dependencies', () => {
  it('name the default catalog, schema, volume and folder', () => {
    const { DATABRICKS_HOST, DATABRICKS_TOKEN, DATABRICKS_WAREHOUSE_ID } = DATABRICKS;
    expect(load({ DATABRICKS_HOST, DATABRICKS_TOKEN, DATABRICKS_WAREHOUSE_ID }).databricks).toMatchObject({
      catalog: 'workspace',
      schema: 'crypto',
      volume: 'landing',
      workspaceDir: '/Shared/crypto-risk-monitor',
    });
  });

  it('reads the feed channel for a Slack app as for the console', () => {
    expect(load({ ...SLACK_APP, SLACK_FEED_CHANNEL: '#ops_feed-2' }).slack?.feed.channel).toBe('ops_feed-2');
    expect(load({ ...SLACK_APP, SLACK_FEED_CHANNEL: 'C0CRYPTO1' }).slack?.feed.channel).toBe('C0CRYPTO1');
  });

  it('needs a token or a service principal with DATABRICKS_HOST', () => {
    expect(problemsOf({ DATABRICKS_TOKEN: '' })).toEqual([
      'DATABRICKS_TOKEN: needed with DATABRICKS_HOST (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET of a service principal)',
    ]);
  });

  it.each([
    'DATABRICKS_TOKEN',
    'DATABRICKS_CLIENT_ID',
    'DATABRICKS_CLIENT_SECRET',
    'DATABRICKS_WAREHOUSE_ID',
  ])('refuses %s without DATABRICKS_HOST', (name) => {
    const problems = (() => {
      try {
        loadConfig({ env: { LOG_LEVEL: 'silent', [name]: 'abcdef0123456789' }, cwd: tmpdir() });
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
      return [];
    })();
    expect(problems).toEqual([`${name}: set DATABRICKS_HOST too (the workspace URL), or remove it`]);
  });
});

describe('optional identifiers', () => {
  it('take an empty value as not set', () => {
    expect(load({ SLACK_OPS_USERGROUP: '' }).console?.opsUsergroup).toBe('S0CRYPTOOPS');
    expect(
      load({ SLACK_OPS_USERGROUP: '', SLACK_OPS_USERS: 'U0OPS01' }).console?.opsUsergroup,
    ).toBeUndefined();
    expect(problemsOf({ DATABRICKS_WAREHOUSE_ID: '' })).toEqual([
      'DATABRICKS_WAREHOUSE_ID: needed with DATABRICKS_HOST (the SQL warehouse for reads)',
    ]);
  });

  it('report only the setting that is wrong among several', () => {
    expect(
      problemsOf({ DATABRICKS_CATALOG: 'main', DATABRICKS_SCHEMA: 'a b', DATABRICKS_VOLUME: 'v' }),
    ).toEqual([`DATABRICKS_SCHEMA: ${identifierMessage}`]);
  });
});
