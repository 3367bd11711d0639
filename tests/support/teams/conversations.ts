import type { Activity } from './activities.js';

/** What the channel shows: every message with its current content and the versions it went through. */
export interface StoredMessage {
  id: string;
  /** The conversation key (thread suffix `;messageid=` removed for channels). */
  conversationId: string;
  /** The root message of the channel thread it sits in, when it is in one. */
  threadId?: string;
  fromBot: boolean;
  replyToId?: string;
  activity: Activity;
  history: Array<{ at: number; activity: Activity }>;
  deleted: boolean;
}

export interface ConversationRecord {
  id: string;
  conversationType: 'personal' | 'channel' | 'groupChat';
  tenantId: string;
  /** Set when a user blocked or uninstalled the bot here: writes then answer 403 MessageWritesBlocked. */
  blocked: boolean;
  messages: StoredMessage[];
}

/** Splits `19:…@thread.tacv2;messageid=123` into the channel and the thread root. */
export function splitConversationId(id: string): { key: string; threadId?: string } {
  const at = id.indexOf(';messageid=');
  if (at < 0) return { key: id };
  return { key: id.slice(0, at), threadId: id.slice(at + ';messageid='.length) };
}

export class ConversationStore {
  private readonly byId = new Map<string, ConversationRecord>();

  ensure(
    id: string,
    conversationType: ConversationRecord['conversationType'],
    tenantId: string,
  ): ConversationRecord {
    const { key } = splitConversationId(id);
    let record = this.byId.get(key);
    if (!record) {
      record = { id: key, conversationType, tenantId, blocked: false, messages: [] };
      this.byId.set(key, record);
    }
    return record;
  }

  get(id: string): ConversationRecord | undefined {
    return this.byId.get(splitConversationId(id).key);
  }

  all(): ConversationRecord[] {
    return [...this.byId.values()];
  }

  find(conversation: ConversationRecord, activityId: string): StoredMessage | undefined {
    return conversation.messages.find((m) => m.id === activityId);
  }

  add(
    conversation: ConversationRecord,
    id: string,
    activity: Activity,
    fromBot: boolean,
    threadId?: string,
  ): StoredMessage {
    const stored: StoredMessage = {
      id,
      conversationId: conversation.id,
      ...(threadId ? { threadId } : {}),
      fromBot,
      ...(typeof activity.replyToId === 'string' ? { replyToId: activity.replyToId } : {}),
      activity: { ...activity, id },
      history: [{ at: Date.now(), activity: { ...activity, id } }],
      deleted: false,
    };
    conversation.messages.push(stored);
    return stored;
  }
}
