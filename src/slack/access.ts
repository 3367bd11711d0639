import type { WebClient } from '@slack/web-api';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

/** Who may run ops actions (retrain, provision, schedule changes), and the audit trail of them. */
export interface Access {
  isOps(userId: string): Promise<boolean>;
  /** One audit line per ops action: who, what, when, and the result. */
  audit(entry: { who: string; what: string; result: string; detail?: Record<string, unknown> }): void;
}

/** How long a user group's member list is trusted before it is read again. */
const GROUP_TTL_MS = 60_000;

export function createAccess(deps: {
  opsUsers: readonly string[];
  opsUsergroup?: string;
  client: WebClient;
  clock: Clock;
  logger: Logger;
}): Access {
  let group: { members: Set<string>; at: number } | undefined;

  async function groupMembers(): Promise<Set<string>> {
    const now = deps.clock.now().getTime();
    if (!deps.opsUsergroup) return new Set();
    if (group && now - group.at < GROUP_TTL_MS) return group.members;
    try {
      const res = await deps.client.usergroups.users.list({ usergroup: deps.opsUsergroup });
      group = { members: new Set(res.users), at: now };
      return group.members;
    } catch (err) {
      // Fail closed: without the member list nobody gets in through the group.
      deps.logger.warn(
        { usergroup: deps.opsUsergroup, err: String(err) },
        'could not read the ops user group',
      );
      return new Set();
    }
  }

  return {
    async isOps(userId) {
      if (deps.opsUsers.includes(userId)) return true;
      return (await groupMembers()).has(userId);
    },
    audit({ who, what, result, detail }) {
      deps.logger.info(
        { audit: { who, what, when: deps.clock.now().toISOString(), result, ...detail } },
        `audit: ${who} ${what}: ${result}`,
      );
    },
  };
}
