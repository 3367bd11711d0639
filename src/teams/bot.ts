import { isIP } from 'node:net';
import { type Client as ApiClient, PUBLIC, withOverrides } from '@microsoft/teams.api';
import { App } from '@microsoft/teams.apps';
import { meteringMiddleware } from '../api-metrics.js';
import { createAccess } from '../chat/access.js';
import type { DeliveryLog } from '../chat/delivery-log.js';
import { createFeed, type Feed } from '../chat/feed.js';
import { createLabelFlow, labelOf } from '../chat/labels.js';
import type { MessageRef, Respond } from '../chat/port.js';
import { createRetrainFlow, RETRAIN_CONFIRM } from '../chat/retrain.js';
import { askSchedule, createScheduleFlow, SCHEDULE_CONFIRM } from '../chat/schedule-flow.js';
import type { Clock } from '../clock.js';
import { commandLabel, dispatch, parseSlashText } from '../commands/registry.js';
import { createSilences } from '../commands/silences.js';
import type { TeamsSettings } from '../config.js';
import type { LabelValue } from '../domain/labels.js';
import type { Reply } from '../domain/reply.js';
import { UserError } from '../errors.js';
import type { Schedules } from '../jobs/schedules.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Db } from '../platform/local/db.js';
import type { LakehouseRead, Platform } from '../platform/port.js';
import { type Readiness, readyzAnswer } from '../readiness.js';
import { ADAPTIVE_CARD_CONTENT_TYPE, renderCard } from '../render/cards.js';
import { createCardMessages } from './card-message.js';
import { createChartStore } from './chart-store.js';
import { describeFailure, paced } from './connector-calls.js';
import { createConversationStore } from './conversations.js';
import { createTeamsFeedOutlet } from './feed-outlet.js';
import { createTeamsHttpServer } from './http-server.js';
import { entraGroup } from './ops-group.js';
import { createConversationPacer, sleep } from './pacing.js';
import { createTeamsProgressOutlet } from './progress-outlet.js';
import { sdkLogger } from './sdk-logger.js';
import { clientCredentialsTokens } from './token.js';

/** The cards the bot sent lately, by conversation and activity id: what a card shows to everyone. */
const REMEMBERED_CARDS = 500;

export interface TeamsBotDeps {
  settings: TeamsSettings;
  platform: Platform;
  /** The feed's delivery log (its tables are in `store`). */
  log: DeliveryLog;
  /** The bot store: the delivery log's tables and the Teams conversations the app was installed in. */
  store: Db;
  clock: Clock;
  logger: Logger;
  /** How often a running retrain's state is read (ms). */
  retrainPollMs?: number;
  /** The feed's stale-data rule (FeedDeps.staleAfterMs). */
  staleAfterMs?: number;
  /** Counts of the bot's work (acks, connector calls, feed messages), when `run` serves them. */
  metrics?: Metrics;
  /** The process's readiness checks; /readyz adds the bot's own (a Bot Connector token) to them. */
  readiness?: Readiness;
  /** The jobs' schedules (`schedule`; the feed announces their changes). */
  schedules?: Schedules;
}

export interface TeamsBot {
  /** The anomaly feed, run by the scheduler. */
  feed: Feed;
  start(): Promise<void>;
  /** The port it listens on (after start). */
  port(): number | undefined;
  stop(): Promise<void>;
}

/** The bits of an inbound activity the bot reads (Bot Connector "Activity object"). */
interface Inbound {
  id?: string;
  type: string;
  text?: string;
  replyToId?: string;
  serviceUrl?: string;
  action?: string;
  from?: { id?: string; aadObjectId?: string };
  recipient?: { id?: string };
  conversation?: { id?: string; conversationType?: string; tenantId?: string };
  membersAdded?: Array<{ id?: string }>;
  membersRemoved?: Array<{ id?: string }>;
  entities?: Array<{ type?: string; mentioned?: { id?: string } }>;
  channelData?: { team?: { name?: string }; channel?: { name?: string }; tenant?: { id?: string } };
  value?: { action?: { type?: string; verb?: string; data?: { value?: unknown } } };
}

/**
 * The Microsoft Teams bot on the Teams SDK (@microsoft/teams.apps): chat commands in a personal
 * chat or by @mention in a channel, the retrain confirmation as an Action.Execute card, and the
 * anomaly feed as proactive cards. Every activity is acknowledged at once; the work runs in the
 * background and answers through the Bot Connector API, failures as sentences. With credentials the
 * SDK checks each request's Bot Framework token; without, it accepts unauthenticated requests, on
 * loopback only (Microsoft 365 Agents Playground, tests).
 */
export async function createTeamsBot(deps: TeamsBotDeps): Promise<TeamsBot> {
  const { settings, platform, clock, logger } = deps;
  const credentials = settings.credentials;
  const tokens = credentials
    ? clientCredentialsTokens({ credentials, loginUrl: settings.loginUrl, metrics: deps.metrics })
    : undefined;
  const graph = graphScope(settings.graphUrl);
  // The public cloud, with the endpoints a sovereign cloud or a test emulator moves.
  const cloud = withOverrides(PUBLIC, {
    loginEndpoint: settings.loginUrl,
    openIdMetadataUrl: settings.openIdMetadataUrl,
    graphScope: graph,
  });
  const charts = createChartStore();
  const http = createTeamsHttpServer({
    healthz: () => ({ status: 'ok', platform: platform.kind, surface: 'teams' }),
    readyz: async () => {
      const report = await deps.readiness?.report({
        // Entra still issues the bot its Bot Connector token (cached until near its expiry); without
        // credentials there is nothing to check (the unauthenticated loopback mode).
        'teams auth': async () => {
          await tokens?.(cloud.botScope);
        },
      });
      return report ? readyzAnswer(report) : { status: 200, body: { status: 'ready', checks: {} } };
    },
    // From an activity reaching the bot to its HTTP answer: the acknowledgement Teams waits for.
    answered: (activity, seconds) => {
      const command = ackLabel(activity);
      if (command) deps.metrics?.commandAck.observe({ surface: 'teams', command }, seconds);
    },
    charts,
    logger,
  });
  const app = new App({
    // Empty strings, not undefined: the SDK falls back to CLIENT_ID / CLIENT_SECRET / TENANT_ID from
    // the environment, which is not this product's configuration. No secret: the token provider
    // makes the client-credentials requests (token.ts says why).
    clientId: credentials?.clientId ?? '',
    clientSecret: '',
    tenantId: credentials?.tenantId ?? '',
    ...(tokens ? { token: (scope: string | string[]) => tokens(scope) } : {}),
    managedIdentityClientId: '',
    cloud,
    serviceUrl: settings.serviceUrl,
    httpServerAdapter: http,
    dangerouslyAllowUnauthenticatedRequests: !credentials,
    logger: sdkLogger(logger),
    state: false,
    activity: { mentions: { stripText: true } },
    // Every Bot Connector call counted and timed by endpoint (api-metrics.ts).
    ...(deps.metrics ? { client: { middlewares: [meteringMiddleware(deps.metrics, 'teams')] } } : {}),
  });
  const conversations = createConversationStore(deps.store);
  const silences = createSilences(deps.store);
  const pacer = createConversationPacer();
  const messages = createCardMessages({ charts, publicUrl: settings.publicUrl, logger });
  const access = createAccess({
    opsUsers: settings.opsUsers,
    ...(settings.opsGroup && tokens
      ? {
          group: entraGroup({
            groupId: settings.opsGroup,
            graphUrl: settings.graphUrl,
            scope: graph,
            token: tokens,
            clock,
            metrics: deps.metrics,
          }),
        }
      : {}),
    clock,
    logger,
  });
  const retrain = createRetrainFlow({ platform, access, clock, logger, pollMs: deps.retrainPollMs ?? 1_000 });
  const scheduleFlow = deps.schedules
    ? createScheduleFlow({ schedules: deps.schedules, access, clock })
    : undefined;
  const apiFor = (serviceUrl: string): ApiClient => app.api.clone({ serviceUrl });
  const feed = createFeed({
    platform,
    outlet: createTeamsFeedOutlet({
      ...(settings.feedConversation ? { feedConversation: settings.feedConversation } : {}),
      defaultServiceUrl: settings.serviceUrl,
      conversations,
      api: apiFor,
      messages,
      pacer,
    }),
    log: deps.log,
    clock,
    logger: logger.child({ component: 'feed', surface: 'teams' }),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.schedules ? { schedules: deps.schedules } : {}),
    silences,
    ...(deps.staleAfterMs !== undefined ? { staleAfterMs: deps.staleAfterMs } : {}),
  });

  const labels = createLabelFlow({
    platform,
    log: deps.log,
    clock,
    logger,
    refresh: (deliveryId) => feed.refresh(deliveryId),
  });

  /**
   * A label button of a feed card: recorded, the card updated for everyone, and the invoke answered
   * with the updated card, or with a sentence ("Universal Actions for Adaptive Cards": response
   * format, `application/vnd.microsoft.activity.message`).
   */
  async function labelClick(a: Inbound, label: LabelValue, conversation: string, cardId: string) {
    const sentence = (value: string) =>
      ({ statusCode: 200, type: 'application/vnd.microsoft.activity.message', value }) as never;
    const data = a.value?.action?.data;
    const deliveryId = typeof data?.value === 'string' ? data.value : '';
    try {
      // A channel thread's conversation id carries `;messageid=…`; the feed knows the channel's.
      const from = { conversation: conversation.split(';messageid=')[0] as string, id: cardId };
      const reply = await labels.label(deliveryId, userOf(a), label, from);
      if (!reply) return sentence('Your label was recorded; the message is no longer in the conversation.');
      return {
        statusCode: 200,
        type: ADAPTIVE_CARD_CONTENT_TYPE,
        value: await messages.card(reply),
      } as never;
    } catch (err) {
      const known = err instanceof UserError;
      logger.error(
        { what: 'the label', err: known ? err.message : describeFailure(err) },
        'the label failed',
      );
      return sentence(
        known
          ? err.message
          : `Sorry, the label failed unexpectedly (${describeFailure(err)}). It was logged; try again in a minute.`,
      );
    }
  }

  // What each card the bot sent shows to everyone, so a click that changed nothing can put it back
  // (an Action.Execute answer replaces the card for the one who clicked).
  const cards = new Map<string, Reply>();
  const remember = (ref: MessageRef, reply: Reply) => {
    const key = `${ref.conversation}|${ref.id}`;
    cards.delete(key);
    cards.set(key, reply);
    for (const oldest of cards.keys()) {
      if (cards.size <= REMEMBERED_CARDS) break;
      cards.delete(oldest);
    }
  };
  /** Cards that show a run's progress (their outlet updates them; a click there changes nothing else). */
  const progressCards = new Set<string>();

  const background = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    const tracked = work
      .catch((err: unknown) => logger.error({ err: describeFailure(err) }, 'teams: background work failed'))
      .finally(() => background.delete(tracked));
    background.add(tracked);
  };

  /** Sends a reply (a card) or a sentence to a conversation; remembers the card. */
  async function send(api: ApiClient, conversation: string, reply: Reply | string): Promise<void> {
    const message = await messages.message(reply);
    const sent = await paced(
      pacer,
      conversation,
      'the answer',
      () => api.conversations.createActivity(conversation, message),
      sleep,
    );
    if (sent?.id && typeof reply !== 'string') remember({ conversation, id: sent.id }, reply);
  }

  /** Before a lakehouse read: a stopped warehouse is started, and the user told (as on Slack). */
  async function warmUp(respond: Respond, read: LakehouseRead): Promise<void> {
    const { ready, state } = await platform.reads.readiness(read);
    if (ready) return;
    await respond(
      `The SQL warehouse is ${state.toLowerCase()}; it is starting now and the answer follows here when it is ready (usually a minute or two).`,
    );
    await platform.reads.ensureReady();
  }

  /** Turns any failure into a sentence for the user (and a log line). */
  async function safely(respond: Respond, what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      const known = err instanceof UserError;
      logger.error({ what, err: known ? err.message : describeFailure(err) }, `${what} failed`);
      const text = known
        ? err.message
        : `Sorry, ${what} failed unexpectedly (${describeFailure(err)}). It was logged; try again in a minute, or ask me \`status\`.`;
      await respond(text).catch((respondErr: unknown) =>
        logger.error({ err: describeFailure(respondErr) }, 'could not tell the user about the failure'),
      );
    }
  }

  async function command(user: string, text: string, respond: Respond): Promise<void> {
    const reply = await dispatch(parseSlashText(text), {
      platform,
      clock,
      user,
      access,
      flows: {
        retrain: (asking) => retrain.request(asking, respond),
        schedule: (asking, request) => askSchedule(scheduleFlow, asking, request),
      },
      warmUp: (read) => warmUp(respond, read),
      refuse: (sentence) => respond(sentence),
      silences,
      openIncidents: () => deps.log.openIncidents(),
      ...(deps.schedules ? { schedules: deps.schedules } : {}),
    });
    if (reply) await respond(reply);
  }

  app.on('message', async ({ activity, api }) => {
    const a = activity as unknown as Inbound;
    const conversation = a.conversation?.id;
    if (!conversation) return;
    // In a channel the bot hears only what @mentions it; anything else is not addressed to it.
    if (a.conversation?.conversationType === 'channel' && !mentionsBot(a)) return;
    const text = commandText(a.text ?? '');
    const respond: Respond = (reply) => send(api, conversation, reply);
    track(
      safely(respond, text.split(/\s+/)[0]?.slice(0, 40) || 'help', () => command(userOf(a), text, respond)),
    );
  });

  app.on('card.action', async ({ activity, api }) => {
    const a = activity as unknown as Inbound;
    const action = a.value?.action;
    const conversation = a.conversation?.id;
    const label = labelOf(action?.verb ?? '');
    if (label && conversation && a.replyToId) return labelClick(a, label, conversation, a.replyToId);
    if (action?.verb === SCHEDULE_CONFIRM) {
      // Made at once, and answered with the card the clicker sees in place of the question.
      const token = typeof action.data?.value === 'string' ? action.data.value : '';
      let reply: Reply;
      try {
        if (!scheduleFlow) throw new UserError('Schedules cannot be changed from this bot.');
        reply = await scheduleFlow.confirm(userOf(a), token);
      } catch (err) {
        const known = err instanceof UserError;
        logger.error({ err: known ? err.message : describeFailure(err) }, 'the schedule change failed');
        reply = {
          title: 'Not changed',
          summary: known ? err.message : `The schedule change failed unexpectedly (${describeFailure(err)}).`,
          data: {},
        };
      }
      return { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: renderCard(reply).card } as never;
    }
    if (action?.verb !== RETRAIN_CONFIRM || !conversation || !a.replyToId) {
      // Universal Actions' error answer ("Universal Actions for Adaptive Cards": response format).
      return {
        statusCode: 400,
        type: 'application/vnd.microsoft.error',
        value: { code: 'BadRequest', message: 'This card action is not one the bot knows.' },
      } as never;
    }
    const card: MessageRef = { conversation, id: a.replyToId };
    const key = `${card.conversation}|${card.id}`;
    const token = typeof action.data?.value === 'string' ? action.data.value : '';
    const user = userOf(a);
    let opened = false;
    // Once the progress shows in the clicked card, that card is what "replacing the original"
    // means: the flow's "Retrain started" sentence is not sent as a message of its own.
    const respond: Respond = async (reply, options) => {
      if (options?.replaceOriginal && opened) return;
      await send(api, conversation, reply);
    };
    const progress = createTeamsProgressOutlet({
      card,
      api,
      messages: {
        ...messages,
        // What the progress card shows is what it shows to everyone from now on.
        message: async (reply) => {
          if (typeof reply !== 'string') remember(card, reply);
          return messages.message(reply);
        },
      } as typeof messages,
      pacer,
      logger,
      onOpened: (ref) => {
        opened = true;
        progressCards.add(`${ref.conversation}|${ref.id}`);
      },
    });
    track(
      (async () => {
        await safely(respond, 'the retrain', () =>
          retrain.confirm(user, conversation, token, respond, progress),
        );
        // The click changed nothing on this card (refused, expired, already used): put back what it
        // shows everyone, replacing the "starting" answer the clicker sees.
        const shown = cards.get(key);
        if (opened || (progressCards.has(key) && !shown)) return;
        const restore = shown ?? {
          title: 'Retrain not started',
          summary: 'This confirmation is no longer valid; ask me `retrain` for a new one.',
          data: {},
        };
        const message = await messages.message(restore);
        await paced(
          pacer,
          conversation,
          'the card',
          () => api.conversations.updateActivity(conversation, card.id, message),
          sleep,
        ).catch((err: unknown) =>
          logger.warn({ err: describeFailure(err) }, 'teams: could not put the confirmation card back'),
        );
      })(),
    );
    // Answered at once: the card the clicker sees until the progress replaces it for everyone.
    const starting = renderCard({
      title: 'Retrain starting…',
      summary: 'Checking the request; this card then shows the run as it goes.',
      data: {},
    }).card;
    return { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: starting } as never;
  });

  // The feed's conversation: where the app was installed (a team's channel, a group chat).
  const installedIn = async (a: Inbound) => {
    const conversation = a.conversation?.id;
    if (!conversation || !a.serviceUrl || a.conversation?.conversationType === 'personal') return;
    await conversations.installed({
      conversationId: conversation,
      serviceUrl: a.serviceUrl,
      ...((a.conversation?.tenantId ?? a.channelData?.tenant?.id)
        ? { tenantId: (a.conversation?.tenantId ?? a.channelData?.tenant?.id) as string }
        : {}),
      ...(a.channelData?.team?.name ? { teamName: a.channelData.team.name } : {}),
      ...(a.channelData?.channel?.name ? { channelName: a.channelData.channel.name } : {}),
      installedAt: clock.now().toISOString(),
    });
    logger.info({ conversation, team: a.channelData?.team?.name }, 'teams: installed in a conversation');
  };
  const removedFrom = async (a: Inbound) => {
    if (a.conversation?.id) await conversations.removed(a.conversation.id, clock.now());
  };
  app.on('conversationUpdate', async ({ activity }) => {
    const a = activity as unknown as Inbound;
    const bot = a.recipient?.id;
    if (bot && a.membersAdded?.some((m) => m.id === bot)) track(installedIn(a));
    if (bot && a.membersRemoved?.some((m) => m.id === bot)) track(removedFrom(a));
  });
  app.on('installationUpdate', async ({ activity }) => {
    const a = activity as unknown as Inbound;
    if (a.action === 'add' || a.action === 'add-upgrade') track(installedIn(a));
    if (a.action === 'remove' || a.action === 'remove-upgrade') track(removedFrom(a));
  });
  app.event('error', ({ error }) => {
    logger.error({ err: describeFailure(error) }, 'Teams app error');
  });

  return {
    feed,
    async start() {
      if (!credentials) {
        if (!isLoopback(settings.host)) {
          throw new UserError(
            `TEAMS_HOST is ${settings.host}, but without TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_TENANT_ID the Teams bot accepts unauthenticated requests, so it listens on loopback only: set the three, or TEAMS_HOST=127.0.0.1.`,
          );
        }
        logger.warn(
          { host: settings.host, port: settings.port },
          'teams: no credentials: the bot accepts unauthenticated requests (local tools only: Microsoft 365 Agents Playground)',
        );
        if (settings.opsGroup)
          logger.warn(
            { entra_group: settings.opsGroup },
            'teams: TEAMS_OPS_GROUP cannot be read without credentials (Graph needs an app token): only TEAMS_OPS_USERS are ops',
          );
      } else {
        // The credentials are checked before anything is served: a token for the Bot Connector.
        try {
          await tokens?.(cloud.botScope);
        } catch (err) {
          throw new UserError(err instanceof Error ? err.message : String(err), { cause: err });
        }
      }
      await app.initialize();
      await http.listen(settings.port, settings.host);
      if (!settings.feedConversation && !(await conversations.latest())) {
        logger.warn(
          'teams: the feed has no conversation yet: install the app in a team channel or set TEAMS_FEED_CONVERSATION',
        );
      }
    },
    port: () => http.port(),
    async stop() {
      await http.close();
      while (background.size > 0) await Promise.all(background);
      await Promise.all([retrain.stop(), feed.stop()]);
    },
  };
}

/** The user as access knows them: the Entra object id (lower case), else the channel account id. */
function userOf(a: Inbound): string {
  const id = a.from?.aadObjectId || a.from?.id || 'unknown';
  return /^[0-9a-f-]{36}$/i.test(id) ? id.toLowerCase() : id;
}

function mentionsBot(a: Inbound): boolean {
  const bot = a.recipient?.id;
  return Boolean(bot && a.entities?.some((e) => e.type === 'mention' && e.mentioned?.id === bot));
}

/** The command an activity asks for, as a metric label; undefined for activities that are not asks. */
function ackLabel(activity: Record<string, unknown>): string | undefined {
  const a = activity as unknown as Inbound & { name?: unknown };
  if (a.type === 'message') return commandLabel(commandText((a.text ?? '').replace(/<at>.*?<\/at>/g, '')));
  if (a.type !== 'invoke' || a.name !== 'adaptiveCard/action') return undefined;
  const verb = a.value?.action?.verb ?? '';
  return verb === RETRAIN_CONFIRM ? 'retrain_confirm' : labelOf(verb) ? 'label' : 'other';
}

/**
 * The command in a message's text (the SDK removed the bot's mention): Teams sends HTML entities
 * for spaces typed around a mention; someone used to Slack may type the slash command too.
 */
function commandText(text: string): string {
  return text
    .replace(/&nbsp;|\u00a0/g, ' ')
    .trim()
    .replace(/^\/?crypto\b\s*/i, '');
}

/** Microsoft Graph's national cloud hosts ("National cloud deployments", learn.microsoft.com/graph/deployments). */
const GRAPH_HOSTS = new Set([
  'graph.microsoft.com',
  'graph.microsoft.us',
  'dod-graph.microsoft.us',
  'microsoftgraph.chinacloudapi.cn',
]);

/**
 * The token scope for Graph: its resource is its host in each national cloud. Any other address
 * (a proxy, a test stand-in) serves the public cloud's Graph and takes its tokens.
 */
function graphScope(graphUrl: string): string {
  const host = new URL(graphUrl).host;
  return GRAPH_HOSTS.has(host) ? `https://${host}/.default` : PUBLIC.graphScope;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}
