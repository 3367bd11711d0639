import { createHash, randomUUID } from 'node:crypto';

/**
 * Builders for the activities Teams POSTs to a bot, with the fields Teams fills: channelId
 * `msteams`, serviceUrl, conversation {id, conversationType, tenantId}, from {id, aadObjectId, name},
 * recipient `28:<appId>`, channelData {tenant, team, channel}, and a mention entity for @mentions
 * ("Channel and group chat conversations with a bot", Retrieve mentions:
 * https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/channel-and-group-conversations;
 * "Conversation events in your Teams bot":
 * https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events).
 */
export type Activity = Record<string, unknown> & { type: string; id?: string };

export interface TeamsUser {
  /** The bot-scoped user id, `29:…`. */
  id: string;
  /** The user's Entra object id, what Graph knows them by. */
  aadObjectId: string;
  name: string;
}

export interface TeamsTeam {
  /** The team's thread id, `19:…@thread.tacv2` (the General channel shares it). */
  id: string;
  name: string;
  /** The team's Microsoft 365 group id. */
  aadGroupId: string;
}

export interface TeamsChannel {
  id: string;
  name: string;
}

export interface ActivityContext {
  appId: string;
  botName: string;
  tenantId: string;
  serviceUrl: string;
}

let lastId = 0;
/** Teams message ids are epoch milliseconds as text; kept strictly increasing so ids never collide. */
export function nextActivityId(): string {
  lastId = Math.max(Date.now(), lastId + 1);
  return String(lastId);
}

/** A user with the id shapes Teams uses. */
export function teamsUser(name: string, aadObjectId: string = randomUUID()): TeamsUser {
  return { id: `29:1${digest(aadObjectId).slice(0, 40)}`, aadObjectId, name };
}

export function teamsTeam(name: string): TeamsTeam {
  const team = digest(`team:${name}`).slice(0, 32);
  return { id: `19:${team}@thread.tacv2`, name, aadGroupId: uuidFrom(`group:${name}`) };
}

export function teamsChannel(name: string): TeamsChannel {
  return { id: `19:${digest(`channel:${name}`).slice(0, 32)}@thread.tacv2`, name };
}

/** The 1:1 conversation id between this bot and this user; the same whether the user or the bot opens it. */
export function personalConversationId(appId: string, user: TeamsUser): string {
  return `a:1${digest(`${appId}|${user.id}`).slice(0, 60)}`;
}

export class ActivityBuilder {
  constructor(private readonly ctx: ActivityContext) {}

  get botAccount(): { id: string; name: string } {
    return { id: `28:${this.ctx.appId}`, name: this.ctx.botName };
  }

  /** The `<at>name</at>` markup Teams puts in the text where the bot is mentioned. */
  get mentionText(): string {
    return `<at>${this.ctx.botName}</at>`;
  }

  private base(type: string, from: { id: string; name: string; aadObjectId?: string }): Activity {
    const now = new Date();
    return {
      type,
      id: nextActivityId(),
      timestamp: now.toISOString(),
      localTimestamp: now.toISOString(),
      localTimezone: 'Europe/Berlin',
      channelId: 'msteams',
      serviceUrl: this.ctx.serviceUrl,
      from,
      recipient: this.botAccount,
      locale: 'en-US',
    };
  }

  private clientInfo(): Record<string, unknown> {
    return { type: 'clientInfo', locale: 'en-US', country: 'US', platform: 'Web', timezone: 'Europe/Berlin' };
  }

  personalConversation(user: TeamsUser): Record<string, unknown> {
    return {
      conversationType: 'personal',
      tenantId: this.ctx.tenantId,
      id: personalConversationId(this.ctx.appId, user),
    };
  }

  /** A message in the bot's 1:1 chat: no mention needed there. */
  personalMessage(user: TeamsUser, text: string): Activity {
    return {
      ...this.base('message', user),
      text,
      textFormat: 'plain',
      attachments: [],
      entities: [this.clientInfo()],
      conversation: this.personalConversation(user),
      channelData: { tenant: { id: this.ctx.tenantId } },
    };
  }

  /**
   * A channel post that @mentions the bot: text `<at>bot</at> {text}`, the mention entity, and a
   * conversation id `{channel};messageid={root}` naming the thread (the post itself starts one
   * unless `threadRootId` says which thread it replies in).
   */
  channelMention(
    user: TeamsUser,
    team: TeamsTeam,
    channel: TeamsChannel,
    text: string,
    threadRootId?: string,
  ): Activity {
    const activity = this.base('message', user);
    const root = threadRootId ?? String(activity.id);
    return {
      ...activity,
      text: `${this.mentionText} ${text}`,
      textFormat: 'plain',
      attachments: [
        {
          contentType: 'text/html',
          content: `<div><div><at id="0">${this.ctx.botName}</at> ${text}</div></div>`,
        },
      ],
      entities: [this.mentionEntity(), this.clientInfo()],
      conversation: {
        isGroup: true,
        conversationType: 'channel',
        tenantId: this.ctx.tenantId,
        id: `${channel.id};messageid=${root}`,
      },
      channelData: {
        teamsChannelId: channel.id,
        teamsTeamId: team.id,
        channel: { id: channel.id },
        team: { id: team.id },
        tenant: { id: this.ctx.tenantId },
      },
      ...(threadRootId ? { replyToId: threadRootId } : {}),
    };
  }

  /** A group chat message that @mentions the bot. */
  groupChatMention(user: TeamsUser, chatId: string, text: string): Activity {
    return {
      ...this.base('message', user),
      text: `${this.mentionText} ${text}`,
      textFormat: 'plain',
      entities: [this.mentionEntity(), this.clientInfo()],
      conversation: { isGroup: true, conversationType: 'groupChat', tenantId: this.ctx.tenantId, id: chatId },
      channelData: { tenant: { id: this.ctx.tenantId } },
    };
  }

  private mentionEntity(): Record<string, unknown> {
    return { type: 'mention', text: this.mentionText, mentioned: this.botAccount };
  }

  /**
   * The invoke Teams sends when a user presses an Action.Execute button: name
   * `adaptiveCard/action`, value {action: {type, verb, data}, trigger: 'manual'}, replyToId = the
   * card message's id ("Universal Actions for Adaptive Cards", adaptiveCard/action invoke activity:
   * https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards).
   */
  cardAction(
    user: TeamsUser,
    conversation: Record<string, unknown>,
    cardActivityId: string,
    verb: string,
    data: Record<string, unknown> = {},
    channelData: Record<string, unknown> = { tenant: { id: this.ctx.tenantId } },
  ): Activity {
    return {
      ...this.base('invoke', user),
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', id: randomUUID(), verb, data }, trigger: 'manual' },
      replyToId: cardActivityId,
      entities: [this.clientInfo()],
      conversation,
      channelData,
    };
  }

  /** The conversationUpdate Teams sends when the bot is added to a team: membersAdded holds the bot. */
  installedInTeamUpdate(installer: TeamsUser, team: TeamsTeam): Activity {
    return {
      ...this.base('conversationUpdate', installer),
      membersAdded: [{ id: this.botAccount.id }],
      conversation: { isGroup: true, conversationType: 'channel', tenantId: this.ctx.tenantId, id: team.id },
      channelData: {
        team: { aadGroupId: team.aadGroupId, name: team.name, id: team.id },
        eventType: 'teamMemberAdded',
        tenant: { id: this.ctx.tenantId },
        settings: { selectedChannel: { id: team.id } },
      },
    };
  }

  /** The installationUpdate (action `add`) that accompanies an installation in a team. */
  installedInTeamInstallation(installer: TeamsUser, team: TeamsTeam): Activity {
    return {
      ...this.base('installationUpdate', installer),
      action: 'add',
      conversation: { isGroup: true, conversationType: 'channel', tenantId: this.ctx.tenantId, id: team.id },
      channelData: {
        settings: { selectedChannel: { id: team.id } },
        team: { aadGroupId: team.aadGroupId, name: team.name, id: team.id },
        source: { name: 'message' },
        tenant: { id: this.ctx.tenantId },
      },
    };
  }

  /** The installationUpdate (action `add`) for a personal installation. */
  installedPersonal(user: TeamsUser): Activity {
    return {
      ...this.base('installationUpdate', user),
      action: 'add',
      conversation: this.personalConversation(user),
      channelData: { source: { name: 'message' }, tenant: { id: this.ctx.tenantId } },
    };
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function uuidFrom(text: string): string {
  const h = digest(text);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
