import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * Which OAuth scope each Web API method of the local Slack needs from the bot token, per the
 * "Scopes" fact of each method's documentation page, and the bot scopes the app asks for in its
 * manifest (slack/manifest.yml), which the local workspace grants by default. A method called
 * without its scope answers what Slack answers:
 * `{ ok: false, error: 'missing_scope', needed: '<scope>', provided: '<granted, comma-separated>' }`
 * (the `missing_scope` error every method page lists under "Errors"; `needed` and `provided` are
 * fields of every response type in @slack/web-api, e.g. dist/types/response/ChatPostMessageResponse.d.ts).
 */

/** The kinds of conversation, as the Conversations API tells them apart. */
export type ConversationKind = 'public' | 'private' | 'im' | 'mpim';

/** A method's scope: none, one, or one chosen by the kind of conversation it reads. */
export type ScopeNeed =
  | { kind: 'none' }
  | { kind: 'fixed'; scope: string }
  /** Chosen by the conversation (or, for conversations.list, by each `types` asked for). */
  | { kind: 'by_conversation'; scopes: Readonly<Record<ConversationKind, string>> };

export interface MethodScope {
  need: ScopeNeed;
  /** The documentation page the need is taken from. */
  doc: string;
}

/**
 * Reading a conversation's messages: one scope per kind of conversation.
 * https://api.slack.com/methods/conversations.history (Scopes: channels:history, groups:history,
 * im:history, mpim:history) and https://api.slack.com/methods/conversations.replies (the same).
 */
export const HISTORY_SCOPES: Readonly<Record<ConversationKind, string>> = {
  public: 'channels:history',
  private: 'groups:history',
  im: 'im:history',
  mpim: 'mpim:history',
};

/**
 * Reading about a conversation: "to retrieve details about a public channel, you'll need
 * channels:read. For details about a private channel, you'll need groups:read."
 * https://api.slack.com/conversations-api ; https://api.slack.com/methods/conversations.info and
 * https://api.slack.com/methods/conversations.list (Scopes: channels:read, groups:read, im:read, mpim:read).
 */
export const READ_SCOPES: Readonly<Record<ConversationKind, string>> = {
  public: 'channels:read',
  private: 'groups:read',
  im: 'im:read',
  mpim: 'mpim:read',
};

const none = (doc: string): MethodScope => ({ need: { kind: 'none' }, doc });
const fixed = (scope: string, doc: string): MethodScope => ({ need: { kind: 'fixed', scope }, doc });
const byConversation = (scopes: Readonly<Record<ConversationKind, string>>, doc: string): MethodScope => ({
  need: { kind: 'by_conversation', scopes },
  doc,
});

/** Every Web API method the local Slack serves; web-api.ts must implement each, and nothing else. */
export const WEB_API_METHODS = [
  'auth.test',
  'chat.postMessage',
  'chat.update',
  'chat.postEphemeral',
  'chat.delete',
  'chat.getPermalink',
  'files.getUploadURLExternal',
  'files.completeUploadExternal',
  'files.info',
  'conversations.history',
  'conversations.replies',
  'conversations.list',
  'conversations.info',
  'views.publish',
  'usergroups.users.list',
  'users.info',
] as const;

export type WebApiMethodName = (typeof WEB_API_METHODS)[number];

/** The scope each method needs (a method missing here does not compile). */
export const METHOD_SCOPES: Readonly<Record<WebApiMethodName, MethodScope>> = {
  // "No scope required"
  'auth.test': none('https://api.slack.com/methods/auth.test'),
  'chat.postMessage': fixed('chat:write', 'https://api.slack.com/methods/chat.postMessage'),
  'chat.update': fixed('chat:write', 'https://api.slack.com/methods/chat.update'),
  'chat.postEphemeral': fixed('chat:write', 'https://api.slack.com/methods/chat.postEphemeral'),
  'chat.delete': fixed('chat:write', 'https://api.slack.com/methods/chat.delete'),
  // "No scope required"
  'chat.getPermalink': none('https://api.slack.com/methods/chat.getPermalink'),
  'files.getUploadURLExternal': fixed(
    'files:write',
    'https://api.slack.com/methods/files.getUploadURLExternal',
  ),
  'files.completeUploadExternal': fixed(
    'files:write',
    'https://api.slack.com/methods/files.completeUploadExternal',
  ),
  'files.info': fixed('files:read', 'https://api.slack.com/methods/files.info'),
  'conversations.history': byConversation(
    HISTORY_SCOPES,
    'https://api.slack.com/methods/conversations.history',
  ),
  'conversations.replies': byConversation(
    HISTORY_SCOPES,
    'https://api.slack.com/methods/conversations.replies',
  ),
  'conversations.list': byConversation(READ_SCOPES, 'https://api.slack.com/methods/conversations.list'),
  'conversations.info': byConversation(READ_SCOPES, 'https://api.slack.com/methods/conversations.info'),
  // "No scope required" (a Home tab needs the app's home_tab_enabled, not a scope)
  'views.publish': none('https://api.slack.com/methods/views.publish'),
  'usergroups.users.list': fixed('usergroups:read', 'https://api.slack.com/methods/usergroups.users.list'),
  'users.info': fixed('users:read', 'https://api.slack.com/methods/users.info'),
};

/** The app manifest, from this file: src/slack/local-slack/ (or dist/…) → the repository's slack/. */
export const MANIFEST_PATH = fileURLToPath(new URL('../../../slack/manifest.yml', import.meta.url));

/** The bot scopes the manifest asks for (`oauth_config.scopes.bot`). */
export function manifestBotScopes(path: string = MANIFEST_PATH): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(
      `local Slack: cannot read the app manifest ${path} for the bot scopes (${String(err)}); ` +
        'ship slack/manifest.yml next to the program, or pass the scopes in LocalSlackOptions.scopes',
      { cause: err },
    );
  }
  const manifest = parse(text) as { oauth_config?: { scopes?: { bot?: unknown } } } | null;
  const bot = manifest?.oauth_config?.scopes?.bot;
  if (!Array.isArray(bot) || !bot.every((s): s is string => typeof s === 'string')) {
    throw new Error(`local Slack: ${path} has no list of bot scopes at oauth_config.scopes.bot`);
  }
  return bot;
}
