import { type Activity, nextActivityId, personalConversationId, type TeamsUser } from './activities.js';
import { type ConversationRecord, type ConversationStore, splitConversationId } from './conversations.js';
import type { ThreadRateLimiter } from './faults.js';
import { checkOutgoing } from './message-rules.js';

/**
 * The Bot Connector REST API a bot calls back under the serviceUrl (Bot Connector API reference:
 * https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference):
 * Create Conversation, Send to Conversation, Reply to Activity, Update Activity, Delete Activity and
 * Get Conversation Member, answering ResourceResponse {id} / ErrorResponse {error: {code, message}}.
 */
export interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ConnectorDeps {
  appId: string;
  tenantId: string;
  store: ConversationStore;
  limiter: ThreadRateLimiter | undefined;
  /** Users the bot can reach by id, learnt from the activities the emulator sent it. */
  users: Map<string, TeamsUser>;
  /** Channels of teams the bot is installed in. */
  channels: Set<string>;
}

export function connectorRoute(
  deps: ConnectorDeps,
  method: string,
  segments: string[],
  body: unknown,
): Answer {
  // segments: after /v3/conversations
  if (segments.length === 0) {
    if (method === 'POST') return createConversation(deps, body);
    return notAllowed();
  }
  const conversationId = segments[0] ?? '';
  if (segments[1] === 'members' && segments.length === 3 && method === 'GET') {
    return getMember(deps, conversationId, segments[2] ?? '');
  }
  if (segments[1] !== 'activities' || segments.length > 3)
    return errorAnswer(404, 'NotFound', 'No such operation.');
  const activityId = segments[2];
  const conversation = deps.store.get(conversationId);
  if (!conversation) return errorAnswer(404, 'ConversationNotFound', 'Conversation not found.');
  if (activityId === undefined) {
    if (method !== 'POST') return notAllowed();
    return post(deps, conversation, conversationId, body, undefined);
  }
  if (method === 'POST') return post(deps, conversation, conversationId, body, activityId);
  if (method === 'PUT') return update(deps, conversation, activityId, body);
  if (method === 'DELETE') return remove(deps, conversation, activityId);
  return notAllowed();
}

/**
 * Send to Conversation and Reply to Activity. A reply names an activity that must exist in the
 * conversation (stricter than the service, which may accept unknown ids).
 */
function post(
  deps: ConnectorDeps,
  conversation: ConversationRecord,
  conversationId: string,
  body: unknown,
  replyTo: string | undefined,
): Answer {
  const blocked = blockedAnswer(conversation);
  if (blocked) return blocked;
  const refusal = checkOutgoing(body);
  if (refusal) return errorAnswer(refusal.status, refusal.code, refusal.message);
  const activity = body as Activity;
  const replyToId = replyTo ?? (typeof activity.replyToId === 'string' ? activity.replyToId : undefined);
  if (replyToId !== undefined && !deps.store.find(conversation, replyToId)) {
    return errorAnswer(404, 'ActivityNotFound', `Activity ${replyToId} is not in this conversation.`);
  }
  const limited = admit(deps, conversation.id);
  if (limited) return limited;
  const id = nextActivityId();
  const { threadId } = splitConversationId(conversationId);
  deps.store.add(conversation, id, { ...activity, ...(replyToId ? { replyToId } : {}) }, true, threadId);
  return { status: 201, body: { id } };
}

/**
 * Update Activity: replaces an existing message's content ("Update and delete messages sent from
 * your bot": https://learn.microsoft.com/microsoftteams/platform/bots/how-to/update-and-delete-bot-messages).
 * Unknown or deleted ids answer 404; a bot may edit only its own messages (403).
 */
function update(
  deps: ConnectorDeps,
  conversation: ConversationRecord,
  activityId: string,
  body: unknown,
): Answer {
  const blocked = blockedAnswer(conversation);
  if (blocked) return blocked;
  const stored = deps.store.find(conversation, activityId);
  if (!stored || stored.deleted) {
    return errorAnswer(404, 'ActivityNotFound', `Activity ${activityId} is not in this conversation.`);
  }
  if (!stored.fromBot) return errorAnswer(403, 'Forbidden', 'A bot can only update the messages it sent.');
  const refusal = checkOutgoing(body);
  if (refusal) return errorAnswer(refusal.status, refusal.code, refusal.message);
  const limited = admit(deps, conversation.id);
  if (limited) return limited;
  const next = { ...(body as Activity), id: activityId };
  stored.activity = next;
  stored.history.push({ at: Date.now(), activity: next });
  return { status: 200, body: { id: activityId } };
}

function remove(deps: ConnectorDeps, conversation: ConversationRecord, activityId: string): Answer {
  const stored = deps.store.find(conversation, activityId);
  if (!stored || stored.deleted) {
    return errorAnswer(404, 'ActivityNotFound', `Activity ${activityId} is not in this conversation.`);
  }
  if (!stored.fromBot) return errorAnswer(403, 'Forbidden', 'A bot can only delete the messages it sent.');
  const limited = admit(deps, conversation.id);
  if (limited) return limited;
  stored.deleted = true;
  return { status: 200 };
}

/**
 * Create Conversation with ConversationParameters {bot, members, tenantId, channelData, activity}
 * ("Send proactive messages": https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages).
 * Teams opens 1:1 chats (one member) and new threads in a channel of a team the bot is installed
 * in; it cannot create group chats. A user the bot was never installed for answers 403
 * MessageWritesBlocked, as the page shows.
 */
function createConversation(deps: ConnectorDeps, body: unknown): Answer {
  if (!body || typeof body !== 'object')
    return errorAnswer(400, 'BadArgument', 'ConversationParameters must be a JSON object.');
  const p = body as {
    bot?: { id?: unknown };
    members?: Array<{ id?: unknown }>;
    tenantId?: unknown;
    isGroup?: unknown;
    channelData?: { tenant?: { id?: unknown }; channel?: { id?: unknown } };
    activity?: unknown;
  };
  const tenantId = typeof p.tenantId === 'string' ? p.tenantId : p.channelData?.tenant?.id;
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    return errorAnswer(
      400,
      'BadArgument',
      'Teams needs the tenant id (tenantId or channelData.tenant.id) to create a conversation.',
    );
  }
  if (tenantId !== deps.tenantId)
    return errorAnswer(403, 'Forbidden', 'The bot is not registered in that tenant.');
  const botId = p.bot?.id;
  if (botId !== undefined && botId !== `28:${deps.appId}` && botId !== deps.appId) {
    return errorAnswer(400, 'BadArgument', 'bot.id is not this bot.');
  }
  const channelId = p.channelData?.channel?.id;
  if (typeof channelId === 'string') return createThread(deps, channelId, p.activity);
  if (p.isGroup === true)
    return errorAnswer(400, 'BadArgument', 'Teams cannot create a group chat through the bot API.');
  const members = Array.isArray(p.members) ? p.members : [];
  if (members.length !== 1 || typeof members[0]?.id !== 'string') {
    return errorAnswer(400, 'BadArgument', 'A 1:1 conversation takes exactly one member with an id.');
  }
  const memberId = members[0].id;
  const user = [...deps.users.values()].find((u) => u.id === memberId || u.aadObjectId === memberId);
  if (!user) return messageWritesBlocked();
  const conversation = deps.store.ensure(personalConversationId(deps.appId, user), 'personal', tenantId);
  const blocked = blockedAnswer(conversation);
  if (blocked) return blocked;
  const limited = admit(deps, conversation.id);
  if (limited) return limited;
  if (p.activity !== undefined) {
    const refusal = checkOutgoing(p.activity);
    if (refusal) return errorAnswer(refusal.status, refusal.code, refusal.message);
    const activityId = nextActivityId();
    deps.store.add(conversation, activityId, p.activity as Activity, true);
    return { status: 201, body: { id: conversation.id, activityId } };
  }
  return { status: 201, body: { id: conversation.id } };
}

function createThread(deps: ConnectorDeps, channelId: string, activity: unknown): Answer {
  if (!deps.channels.has(channelId))
    return errorAnswer(403, 'BotNotInConversationRoster', 'The bot is not installed in that team.');
  if (activity === undefined)
    return errorAnswer(400, 'BadArgument', 'A new channel thread needs its first activity.');
  const refusal = checkOutgoing(activity);
  if (refusal) return errorAnswer(refusal.status, refusal.code, refusal.message);
  const conversation = deps.store.ensure(channelId, 'channel', deps.tenantId);
  const blocked = blockedAnswer(conversation);
  if (blocked) return blocked;
  const limited = admit(deps, conversation.id);
  if (limited) return limited;
  const activityId = nextActivityId();
  deps.store.add(conversation, activityId, activity as Activity, true, activityId);
  return { status: 201, body: { id: `${channelId};messageid=${activityId}`, activityId } };
}

/** Get Conversation Member: the TeamsChannelAccount of a user in the conversation. */
function getMember(deps: ConnectorDeps, conversationId: string, memberId: string): Answer {
  if (!deps.store.get(conversationId))
    return errorAnswer(404, 'ConversationNotFound', 'Conversation not found.');
  const user = [...deps.users.values()].find((u) => u.id === memberId || u.aadObjectId === memberId);
  if (!user)
    return errorAnswer(404, 'MemberNotFoundInConversation', 'The member is not in this conversation.');
  return {
    status: 200,
    body: {
      id: user.id,
      name: user.name,
      aadObjectId: user.aadObjectId,
      tenantId: deps.tenantId,
      userRole: 'user',
    },
  };
}

function admit(deps: ConnectorDeps, key: string): Answer | undefined {
  if (!deps.limiter) return undefined;
  const verdict = deps.limiter.admit(key);
  if (verdict.ok) return undefined;
  // "Apps that go over this limit receive an HTTP 429 Too Many Requests error status" (rate-limit page).
  return {
    status: 429,
    headers: { 'retry-after': String(verdict.retryAfterSeconds) },
    body: { error: { code: 'Throttled', message: 'Too Many Requests' } },
  };
}

function blockedAnswer(conversation: ConversationRecord): Answer | undefined {
  return conversation.blocked ? messageWritesBlocked() : undefined;
}

/** The 403 body "Send proactive messages" shows for a user who blocked or uninstalled the bot. */
function messageWritesBlocked(): Answer {
  return {
    status: 403,
    body: {
      errorCode: 209,
      message: JSON.stringify({
        subCode: 'MessageWritesBlocked',
        details: 'Thread is blocked from message writes.',
        errorCode: null,
        errorSubCode: null,
      }),
    },
  };
}

function notAllowed(): Answer {
  return errorAnswer(405, 'MethodNotAllowed', 'The method is not allowed on this resource.');
}

export function errorAnswer(status: number, code: string, message: string): Answer {
  return { status, body: { error: { code, message } } };
}
