/**
 * A loopback stand-in for the Microsoft services a Teams bot talks to: the Bot Connector (inbound
 * signed activities and the REST API under the serviceUrl), the Entra v2.0 token endpoint and
 * Microsoft Graph's checkMemberGroups. The pieces live in ./teams/.
 */
export {
  type Activity,
  type ActivityBuilder,
  personalConversationId,
  type TeamsChannel,
  type TeamsTeam,
  type TeamsUser,
  teamsChannel,
  teamsTeam,
  teamsUser,
} from './teams/activities.js';
export type { InboundToken } from './teams/connector-token.js';
export type { StoredMessage } from './teams/conversations.js';
export {
  type CallRecord,
  type SendOptions,
  type SendResult,
  startTeamsEmulator,
  type TeamsEmulator,
  type TeamsEmulatorOptions,
} from './teams/emulator.js';
export type { TokenRequestRecord } from './teams/entra.js';
export { type FaultRule, TEAMS_THREAD_LIMITS } from './teams/faults.js';
export {
  ADAPTIVE_CARD_CONTENT_TYPE,
  MAX_CARD_VERSION,
  MAX_MESSAGE_UTF16_BYTES,
  MAX_REQUEST_BYTES,
} from './teams/message-rules.js';
