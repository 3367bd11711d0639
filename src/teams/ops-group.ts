import axios from 'axios';
import { meterAxios } from '../api-metrics.js';
import type { OpsGroup } from '../chat/access.js';
import type { Clock } from '../clock.js';
import type { Metrics } from '../metrics.js';

/** How long one user's answer is trusted before Graph is asked again. */
const MEMBER_TTL_MS = 60_000;
const TIMEOUT_MS = 10_000;

/**
 * An Entra group as the ops group, read through Microsoft Graph's checkMemberGroups
 * (learn.microsoft.com/graph/api/directoryobject-checkmembergroups: `POST /users/{id}/checkMemberGroups`
 * with `{ groupIds }` answers the ones the user is a member of, transitively), with an app-only
 * token for Graph's `.default` scope (application permission GroupMember.Read.All or Directory.Read.All).
 * Each user's answer is kept a minute. A user Graph does not know (404) is not a member; any other
 * failure is thrown and not remembered, so access fails closed.
 */
export function entraGroup(deps: {
  groupId: string;
  graphUrl: string;
  /** The token scope of Graph's resource (graphScope in bot.ts). */
  scope: string;
  token: (scope: string) => Promise<string>;
  clock: Clock;
  metrics?: Metrics;
}): OpsGroup {
  const http = meterAxios(axios.create(), deps.metrics, 'graph');
  const answers = new Map<string, { member: boolean; at: number }>();
  return {
    logAs: { field: 'entra_group', id: deps.groupId },
    async has(userId) {
      const now = deps.clock.now().getTime();
      const known = answers.get(userId);
      if (known && now - known.at < MEMBER_TTL_MS && now >= known.at) return known.member;
      const token = await deps.token(deps.scope);
      const res = await http
        .post(
          `${deps.graphUrl}/v1.0/users/${encodeURIComponent(userId)}/checkMemberGroups`,
          { groupIds: [deps.groupId] },
          { headers: { authorization: `Bearer ${token}` }, timeout: TIMEOUT_MS, validateStatus: () => true },
        )
        .catch((err: unknown) => {
          throw new Error(
            `Microsoft Graph could not be reached (${(err as { code?: string }).code ?? 'no answer'})`,
          );
        });
      let member: boolean;
      if (res.status === 404) member = false;
      else if (res.status === 200 && Array.isArray((res.data as { value?: unknown })?.value)) {
        const ids = (res.data as { value: unknown[] }).value.map((v) => String(v).toLowerCase());
        member = ids.includes(deps.groupId.toLowerCase());
      } else {
        const code = (res.data as { error?: { code?: unknown } })?.error?.code;
        throw new Error(
          `Microsoft Graph answered ${res.status}${typeof code === 'string' ? ` (${code})` : ''} to checkMemberGroups`,
        );
      }
      if (answers.size > 10_000) answers.clear();
      answers.set(userId, { member, at: now });
      return member;
    },
  };
}
