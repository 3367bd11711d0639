import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

/** Who may run ops actions (retrain, provision, schedule changes), and the audit trail of them. */
export interface Access {
  isOps(userId: string): Promise<boolean>;
  /** One audit line per ops action: who, what, when, and the result. */
  audit(entry: { who: string; what: string; result: string; detail?: Record<string, unknown> }): void;
}

/**
 * A group of ops users kept on the chat platform (a Slack user group, an Entra group read through
 * Microsoft Graph). The adapter caches its answers; a failure is thrown, and access fails closed.
 */
export interface OpsGroup {
  /** The log field naming the group (`usergroup`, `entra_group`) and its value (the group's id). */
  logAs: { field: string; id: string };
  has(userId: string): Promise<boolean>;
}

/**
 * Access for one chat platform: the configured ops users, plus the members of its ops group. When
 * the group cannot be read, nobody gets in through it (a warning says why); the configured users
 * still do.
 */
export function createAccess(deps: {
  opsUsers: readonly string[];
  group?: OpsGroup;
  clock: Clock;
  logger: Logger;
}): Access {
  return {
    async isOps(userId) {
      if (deps.opsUsers.includes(userId)) return true;
      if (!deps.group) return false;
      try {
        return await deps.group.has(userId);
      } catch (err) {
        // Fail closed: without the member list nobody gets in through the group.
        const { field, id } = deps.group.logAs;
        deps.logger.warn({ [field]: id, err: String(err) }, 'could not read the ops user group');
        return false;
      }
    },
    audit({ who, what, result, detail }) {
      deps.logger.info(
        { audit: { who, what, when: deps.clock.now().toISOString(), result, ...detail } },
        `audit: ${who} ${what}: ${result}`,
      );
    },
  };
}
