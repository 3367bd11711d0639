import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Activity, ActivityBuilder, type TeamsUser } from './activities.js';
import { type Answer, type ConnectorDeps, connectorRoute, errorAnswer } from './connector-api.js';
import { CONNECTOR_ISSUER, ConnectorSigner, type InboundToken } from './connector-token.js';
import { ConversationStore, type StoredMessage, splitConversationId } from './conversations.js';
import { BOT_RESOURCE, EntraTokenService, GRAPH_RESOURCE, type TokenRequestRecord } from './entra.js';
import { faultAnswer } from './fault-answers.js';
import { FaultBook, type FaultRule, TEAMS_THREAD_LIMITS, ThreadRateLimiter } from './faults.js';
import { type GraphDirectory, graphError, graphRoute } from './graph.js';
import { header, parseJson, parseText, readBody, safeDecode, write } from './http-io.js';
import { toJwk } from './keys.js';
import { checkRequestSize } from './message-rules.js';

export interface TeamsEmulatorOptions {
  appId: string;
  appPassword: string;
  tenantId: string;
  /** The bot's messaging endpoint (…/api/messages); can also be set later or per send. */
  botEndpoint?: string;
  /** Display name Teams shows for the bot and puts in `<at>…</at>`. */
  botName?: string;
  tokenLifetimeSeconds?: number;
  /** Enforce Teams' per bot per conversation limits (true), custom windows, or none (default). */
  rateLimit?: boolean | ReadonlyArray<{ seconds: number; max: number }>;
  graph?: GraphDirectory & { roles?: string[] };
}

export interface CallRecord {
  at: number;
  method: string;
  /** Path below the emulator's root, with the query. */
  path: string;
  status: number;
  ms: number;
}

export interface SendResult {
  status: number;
  body: unknown;
  ms: number;
}

export interface SendOptions {
  token?: InboundToken;
  /** Bot endpoint for this one call. */
  url?: string;
}

export interface TeamsEmulator {
  /** Root of the emulator, http://127.0.0.1:PORT */
  baseUrl: string;
  /** The Bot Connector service URL activities carry, with a trailing slash like Teams' own. */
  serviceUrl: string;
  /** Bot Framework OpenID metadata (the keys document sits next to it at …/keys). */
  openIdMetadataUrl: string;
  /** Base of `/{tenant}/oauth2/v2.0/token`, in place of https://login.microsoftonline.com */
  loginUrl: string;
  /** Graph root, in place of https://graph.microsoft.com/v1.0 */
  graphUrl: string;
  /** Token issuer the connector's tokens carry. */
  tokenIssuer: string;
  activities: ActivityBuilder;
  setBotEndpoint(url: string): void;
  /** The connector's JWT for one activity (undefined for `none`). */
  sign(kind?: InboundToken): string | undefined;
  /** POSTs an activity to the bot as the connector does, after recording it in its conversation. */
  send(activity: Activity, options?: SendOptions): Promise<SendResult>;
  /** POSTs an activity with a signed token to any URL, without recording it (benchmarks). */
  signedPost(url: string, activity: Activity, token?: InboundToken): Promise<SendResult>;
  /** Everything posted in a conversation (user and bot messages), by conversation or thread id. */
  messages(conversationId: string): StoredMessage[];
  /** The bot's messages still shown in a conversation. */
  botMessages(conversationId: string): StoredMessage[];
  /** Make a user reachable for proactive 1:1 chats, as a personal installation does. */
  addUser(user: TeamsUser): void;
  /** The user blocked or uninstalled the bot here: writes answer 403 MessageWritesBlocked. */
  block(conversationId: string): void;
  calls: CallRecord[];
  fault(rule: FaultRule): void;
  clearFaults(): void;
  tokenRequests(): TokenRequestRecord[];
  close(): Promise<void>;
}

export async function startTeamsEmulator(options: TeamsEmulatorOptions): Promise<TeamsEmulator> {
  for (const key of ['appId', 'appPassword', 'tenantId'] as const) {
    if (!options[key]) throw new Error(`startTeamsEmulator needs ${key}.`);
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const serviceUrl = `${baseUrl}/teams/`;
  const openIdMetadataUrl = `${baseUrl}/v1/.well-known/openidconfiguration`;

  const signer = new ConnectorSigner(options.appId, serviceUrl);
  const entra = new EntraTokenService({
    appId: options.appId,
    appPassword: options.appPassword,
    tenantId: options.tenantId,
    ...(options.tokenLifetimeSeconds ? { tokenLifetimeSeconds: options.tokenLifetimeSeconds } : {}),
    ...(options.graph?.roles ? { graphRoles: options.graph.roles } : {}),
  });
  const store = new ConversationStore();
  const faults = new FaultBook();
  const limits = options.rateLimit === true ? TEAMS_THREAD_LIMITS : options.rateLimit || undefined;
  const deps: ConnectorDeps = {
    appId: options.appId,
    tenantId: options.tenantId,
    store,
    limiter: limits ? new ThreadRateLimiter(limits) : undefined,
    users: new Map(),
    channels: new Set(),
  };
  const directory: GraphDirectory = options.graph ?? { groups: {} };
  const calls: CallRecord[] = [];
  const builder = new ActivityBuilder({
    appId: options.appId,
    botName: options.botName ?? 'crypto-risk',
    tenantId: options.tenantId,
    serviceUrl,
  });
  let botEndpoint = options.botEndpoint;

  const route = (method: string, path: string, headers: IncomingMessage['headers'], raw: Buffer): Answer => {
    const segments = path.split('/').filter(Boolean).map(safeDecode);
    if (path === '/v1/.well-known/openidconfiguration' && method === 'GET') {
      // The Bot Connector's OpenID metadata ("Connector to bot", step 2: the OpenID metadata document).
      return {
        status: 200,
        body: {
          issuer: CONNECTOR_ISSUER,
          authorization_endpoint: 'https://invalid.botframework.com',
          jwks_uri: `${baseUrl}/v1/.well-known/keys`,
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint_auth_methods_supported: ['private_key_jwt'],
        },
      };
    }
    if (path === '/v1/.well-known/keys' && method === 'GET') {
      return { status: 200, body: { keys: [toJwk(signer.key, ['msteams'])] } };
    }
    if (segments[0] === 'teams' && segments[1] === 'v3' && segments[2] === 'conversations') {
      const auth = entra.check(headers.authorization, BOT_RESOURCE);
      // The connector's answer to a missing or bad bot token (ASP.NET's authorization filter text).
      if (!auth.ok)
        return { status: 401, body: { message: 'Authorization has been denied for this request.' } };
      return connectorRoute(deps, method, segments.slice(3), parseJson(raw));
    }
    if (segments[0] === 'v1.0') {
      const clientRequestId = header(headers, 'client-request-id');
      const auth = entra.check(headers.authorization, GRAPH_RESOURCE);
      if (!auth.ok) {
        return graphError(
          401,
          'InvalidAuthenticationToken',
          `Access token validation failure: ${auth.reason}.`,
          clientRequestId,
        );
      }
      const roles = Array.isArray(auth.claims.roles) ? (auth.claims.roles as string[]) : [];
      return graphRoute(directory, roles, method, segments.slice(1), parseJson(raw), clientRequestId);
    }
    const [tenant, ...rest] = segments;
    const tail = rest.join('/');
    if (tenant && tail === 'oauth2/v2.0/token') {
      if (method !== 'POST') return { status: 405, body: { error: 'invalid_request' } };
      const answer = entra.token(tenant, new URLSearchParams(raw.toString('utf8')), headers.authorization);
      return { status: answer.status, body: answer.body, headers: { 'cache-control': 'no-store, no-cache' } };
    }
    if (tenant && tail === 'discovery/v2.0/keys' && method === 'GET')
      return { status: 200, body: entra.jwks() };
    if (tenant && tail === 'v2.0/.well-known/openid-configuration' && method === 'GET') {
      return { status: 200, body: entra.openIdConfiguration(baseUrl, tenant) };
    }
    return errorAnswer(404, 'NotFound', `Nothing is served at ${path}.`);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', baseUrl);
    const record = (status: number) =>
      calls.push({
        at: Date.now(),
        method,
        path: url.pathname + url.search,
        status,
        ms: performance.now() - started,
      });
    readBody(req)
      .catch(() => undefined)
      .then(async (raw) => {
        if (!raw) {
          write(res, errorAnswer(413, 'MessageSizeTooBig', 'The request body is too large.'));
          record(413);
          return;
        }
        const fault = faults.take(method, url.pathname);
        if (fault?.kind === 'drop') {
          record(0);
          req.socket.destroy();
          return;
        }
        if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
        const answer =
          fault?.kind === 'status'
            ? faultAnswer(fault, url.pathname)
            : (sizeGate(url.pathname, raw) ?? route(method, url.pathname, req.headers, raw));
        write(res, answer);
        record(answer.status);
      })
      .catch((err: unknown) => {
        // A bug in the emulator itself: say so rather than pass for a service answer.
        write(res, errorAnswer(500, 'EmulatorError', err instanceof Error ? err.message : String(err)));
        record(500);
      });
  });

  const post = async (url: string, activity: Activity, token: InboundToken): Promise<SendResult> => {
    const bearer = signer.sign(token);
    const started = performance.now();
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: JSON.stringify(activity),
    });
    const text = await response.text();
    return { status: response.status, body: parseText(text), ms: performance.now() - started };
  };

  return {
    baseUrl,
    serviceUrl,
    openIdMetadataUrl,
    loginUrl: baseUrl,
    graphUrl: `${baseUrl}/v1.0`,
    tokenIssuer: CONNECTOR_ISSUER,
    activities: builder,
    setBotEndpoint(url) {
      botEndpoint = url;
    },
    sign: (kind) => signer.sign(kind),
    async send(activity, sendOptions = {}) {
      const url = sendOptions.url ?? botEndpoint;
      if (!url)
        throw new Error(
          'No bot endpoint: pass botEndpoint to startTeamsEmulator, call setBotEndpoint, or give url.',
        );
      learn(deps, activity, options.tenantId);
      return post(url, activity, sendOptions.token ?? 'valid');
    },
    signedPost: (url, activity, token = 'valid') => post(url, activity, token),
    messages: (conversationId) => messagesOf(store, conversationId),
    botMessages: (conversationId) => messagesOf(store, conversationId).filter((m) => m.fromBot && !m.deleted),
    addUser(user) {
      deps.users.set(user.id, user);
    },
    block(conversationId) {
      const conversation = store.get(conversationId);
      if (!conversation) throw new Error(`No conversation ${conversationId} to block.`);
      conversation.blocked = true;
    },
    calls,
    fault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    tokenRequests: () => [...entra.requests],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function messagesOf(store: ConversationStore, conversationId: string): StoredMessage[] {
  const { key, threadId } = splitConversationId(conversationId);
  const all = store.get(key)?.messages ?? [];
  return threadId ? all.filter((m) => m.threadId === threadId || m.id === threadId) : all;
}

/** Records what an inbound activity tells the channel: its user, conversation, team channels, message. */
function learn(deps: ConnectorDeps, activity: Activity, tenantId: string): void {
  const from = activity.from as Partial<TeamsUser> | undefined;
  if (from?.id?.startsWith('29:') && from.aadObjectId) {
    deps.users.set(from.id, { id: from.id, aadObjectId: from.aadObjectId, name: from.name ?? '' });
  }
  const channelData = (activity.channelData ?? {}) as { team?: { id?: string }; channel?: { id?: string } };
  if (channelData.team?.id) deps.channels.add(channelData.team.id);
  if (channelData.channel?.id) deps.channels.add(channelData.channel.id);
  const conversation = activity.conversation as { id?: string; conversationType?: string } | undefined;
  if (!conversation?.id) return;
  const type =
    conversation.conversationType === 'channel' || conversation.conversationType === 'groupChat'
      ? conversation.conversationType
      : 'personal';
  const record = deps.store.ensure(conversation.id, type, tenantId);
  if (activity.type === 'installationUpdate' && activity.action === 'remove') record.blocked = true;
  if (activity.type === 'installationUpdate' && activity.action === 'add') record.blocked = false;
  if (activity.type === 'message' && typeof activity.id === 'string') {
    const { threadId } = splitConversationId(conversation.id);
    deps.store.add(record, activity.id, activity, false, threadId);
  }
}

/** Requests to the connector over the Bot Framework's size limit are refused before anything else. */
function sizeGate(path: string, raw: Buffer): Answer | undefined {
  if (!path.startsWith('/teams/')) return undefined;
  const refusal = checkRequestSize(raw.length);
  return refusal ? errorAnswer(refusal.status, refusal.code, refusal.message) : undefined;
}
