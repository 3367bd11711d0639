import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { type Config, ConfigError, loadConfig } from '../../src/config.js';

const ID = '5a1f3c2e-8d4b-4e6f-9a0b-1c2d3e4f5a6b';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const TEAMS = { TEAMS_CLIENT_ID: ID, TEAMS_CLIENT_SECRET: 's3cret~value', TEAMS_TENANT_ID: TENANT };

const load = (env: Record<string, string>): Config =>
  loadConfig({ env: { LOG_LEVEL: 'silent', ...env }, cwd: tmpdir() });

function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('Teams settings', () => {
  it('with the three credentials: Teams on every address, the public cloud endpoints', () => {
    const config = load(TEAMS);
    expect(config.chatSurfaces).toEqual(['teams']);
    expect(config.teams).toEqual({
      credentials: { clientId: ID, clientSecret: 's3cret~value', tenantId: TENANT },
      port: 3978,
      host: '0.0.0.0',
      publicUrl: 'http://127.0.0.1:3978',
      opsUsers: [],
      loginUrl: 'https://login.microsoftonline.com',
      openIdMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
      serviceUrl: 'https://smba.trafficmanager.net/teams/',
      graphUrl: 'https://graph.microsoft.com',
    });
  });

  it('defaults to the console without any chat credentials, to Slack and Teams with both', () => {
    expect(load({}).chatSurfaces).toEqual(['console']);
    expect(load({}).teams).toBeUndefined();
    expect(load({ ...TEAMS, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }).chatSurfaces).toEqual([
      'slack',
      'teams',
    ]);
  });

  it('CHAT_SURFACE=teams without credentials: unauthenticated Teams on loopback', () => {
    const config = load({ CHAT_SURFACE: 'teams' });
    expect(config.chatSurfaces).toEqual(['teams']);
    expect(config.teams?.credentials).toBeUndefined();
    expect(config.teams?.host).toBe('127.0.0.1');
    expect(load({ CHAT_SURFACE: 'teams,console' }).chatSurfaces).toEqual(['teams', 'console']);
  });

  it('needs all three credentials or none, naming the missing ones', () => {
    expect(problemsOf({ TEAMS_CLIENT_ID: ID })).toEqual([
      "TEAMS_CLIENT_SECRET: needed with TEAMS_CLIENT_ID (the bot's single-tenant app registration: client ID, client secret and tenant ID together)",
      "TEAMS_TENANT_ID: needed with TEAMS_CLIENT_ID (the bot's single-tenant app registration: client ID, client secret and tenant ID together)",
    ]);
    expect(problemsOf({ TEAMS_CLIENT_SECRET: 'x', TEAMS_TENANT_ID: TENANT })).toHaveLength(1);
  });

  it('never echoes the secret in a problem', () => {
    const problems = problemsOf({ TEAMS_CLIENT_SECRET: 'hunter2-secret', TEAMS_CLIENT_ID: 'not-a-guid' });
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it.each([
    [
      'TEAMS_CLIENT_ID',
      'not-a-guid',
      "TEAMS_CLIENT_ID: must be the bot's Microsoft Entra application (client) ID, a GUID",
    ],
    ['TEAMS_TENANT_ID', `${TENANT} `, 'TEAMS_TENANT_ID: must be the Microsoft Entra tenant ID, a GUID'],
    [
      'TEAMS_OPS_USERS',
      `${ID},`,
      'TEAMS_OPS_USERS: must list Microsoft Entra user object IDs (GUIDs), comma-separated',
    ],
    [
      'TEAMS_OPS_USERS',
      '29:1abc',
      'TEAMS_OPS_USERS: must list Microsoft Entra user object IDs (GUIDs), comma-separated',
    ],
    ['TEAMS_OPS_GROUP', 'crypto-ops', 'TEAMS_OPS_GROUP: must be a Microsoft Entra group object ID, a GUID'],
    ['TEAMS_PORT', '0', 'TEAMS_PORT: must be a port number from 1 to 65535'],
    ['TEAMS_HOST', 'my host', 'TEAMS_HOST: must be an address to listen on, such as 127.0.0.1 or 0.0.0.0'],
    [
      'TEAMS_PUBLIC_URL',
      'https://bot.example.com/x?y',
      'TEAMS_PUBLIC_URL: must be the https address the bot is reached at, such as https://bot.example.com',
    ],
    [
      'TEAMS_FEED_CONVERSATION',
      '19:abc@thread.tacv2 ; rm',
      'TEAMS_FEED_CONVERSATION: must be a Teams conversation ID such as 19:abc@thread.tacv2',
    ],
    ['TEAMS_LOGIN_URL', 'ftp://login.example', 'TEAMS_LOGIN_URL: must be an http(s) URL'],
    ['TEAMS_SERVICE_URL', 'https://u:p@smba.example/', 'TEAMS_SERVICE_URL: must be an http(s) URL'],
    ['TEAMS_GRAPH_URL', 'graph.microsoft.com', 'TEAMS_GRAPH_URL: must be an http(s) URL'],
    ['TEAMS_OPENID_METADATA_URL', 'https://x/#y', 'TEAMS_OPENID_METADATA_URL: must be an http(s) URL'],
    ['CHAT_SURFACE', 'discord', 'CHAT_SURFACE: must list slack, teams or console, comma-separated'],
    ['CHAT_SURFACE', 'teams,teams', 'CHAT_SURFACE: must list slack, teams or console, comma-separated'],
  ])('%s refuses %j', (name, value, problem) => {
    const credentials = name === 'TEAMS_CLIENT_ID' || name === 'TEAMS_TENANT_ID' ? TEAMS : {};
    expect(problemsOf({ CHAT_SURFACE: 'teams', ...credentials, [name]: value })).toEqual([problem]);
  });

  it('reads the optional settings, ids in lower case', () => {
    const config = load({
      ...TEAMS,
      TEAMS_PORT: '8443',
      TEAMS_HOST: '10.0.0.5',
      TEAMS_PUBLIC_URL: 'https://bot.example.com/',
      TEAMS_FEED_CONVERSATION: '19:abc@thread.tacv2',
      TEAMS_OPS_USERS: `${ID.toUpperCase()}, ${TENANT}`,
      TEAMS_OPS_GROUP: TENANT,
      TEAMS_GRAPH_URL: 'https://graph.microsoft.us/',
    });
    expect(config.teams).toMatchObject({
      port: 8443,
      host: '10.0.0.5',
      publicUrl: 'https://bot.example.com',
      feedConversation: '19:abc@thread.tacv2',
      opsUsers: [ID, TENANT],
      opsGroup: TENANT,
      graphUrl: 'https://graph.microsoft.us',
    });
  });

  it('wants an https public URL for a registered bot, and slack only with a Slack token', () => {
    expect(problemsOf({ ...TEAMS, TEAMS_PUBLIC_URL: 'http://bot.example.com' })).toEqual([
      'TEAMS_PUBLIC_URL: must be an https address when the bot is registered (Teams loads card images over https only)',
    ]);
    expect(problemsOf({ CHAT_SURFACE: 'slack' })).toEqual([
      'CHAT_SURFACE: slack needs SLACK_BOT_TOKEN (or list console for the local stand-in)',
    ]);
  });
});
