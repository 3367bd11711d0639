import type { WebClient } from '@slack/web-api';
import type { OpsGroup } from '../chat/access.js';
import type { Clock } from '../clock.js';

/** How long a user group's member list is trusted before it is read again. */
const GROUP_TTL_MS = 60_000;

/**
 * A Slack user group as the ops group (`usergroups.users.list`, scope `usergroups:read`): its
 * member list is read once a minute at most; a failed read is thrown (access fails closed) and not
 * remembered.
 */
export function slackUsergroup(deps: { usergroup: string; client: WebClient; clock: Clock }): OpsGroup {
  let group: { members: Set<string>; at: number } | undefined;
  return {
    logAs: { field: 'usergroup', id: deps.usergroup },
    async has(userId) {
      const now = deps.clock.now().getTime();
      if (!group || now - group.at >= GROUP_TTL_MS) {
        const res = await deps.client.usergroups.users.list({ usergroup: deps.usergroup });
        group = { members: new Set(res.users), at: now };
      }
      return group.members.has(userId);
    },
  };
}
