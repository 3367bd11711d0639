import { randomUUID } from 'node:crypto';
import type { Answer } from './connector-api.js';

/**
 * Microsoft Graph's `checkMemberGroups` for users ("user: checkMemberGroups":
 * https://learn.microsoft.com/graph/api/user-checkmembergroups): POST /users/{id}/checkMemberGroups
 * (also /directoryObjects/{id}/…) with {groupIds} → {value: ids the user is a member of}. The check is
 * transitive, takes at most 20 groups, fails as a whole on a malformed id, and needs the application
 * permissions User.Read.All (or Directory.Read.All) with GroupMember.Read.All or Group.Read.All.
 */
export interface GraphDirectory {
  /** Group id → member ids (user object ids, or ids of nested groups). */
  groups: Record<string, string[]>;
  /** Users that exist without any group; every user named in a group exists too. */
  users?: string[];
  /** userPrincipalName → object id, so lookups by UPN work as Graph's do. */
  principalNames?: Record<string, string>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_GROUP_IDS = 20;

export function graphRoute(
  directory: GraphDirectory,
  roles: string[],
  method: string,
  segments: string[],
  body: unknown,
  clientRequestId: string | undefined,
): Answer {
  const [collection, objectId, action] = segments;
  const known = collection === 'users' || collection === 'directoryObjects';
  if (!known || !objectId || action !== 'checkMemberGroups' || segments.length !== 3) {
    return graphError(400, 'BadRequest', 'Resource not found for the segment.', clientRequestId);
  }
  if (method !== 'POST')
    return graphError(405, 'Request_BadRequest', 'Only POST is supported.', clientRequestId);
  if (!hasPermissions(roles)) {
    return graphError(
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
      clientRequestId,
    );
  }
  const groupIds = (body as { groupIds?: unknown } | undefined)?.groupIds;
  if (!Array.isArray(groupIds) || groupIds.length === 0 || !groupIds.every((g) => typeof g === 'string')) {
    return graphError(
      400,
      'Request_BadRequest',
      "The request needs a 'groupIds' array of group ids.",
      clientRequestId,
    );
  }
  if (groupIds.length > MAX_GROUP_IDS) {
    return graphError(
      400,
      'Request_BadRequest',
      `At most ${MAX_GROUP_IDS} groups can be checked per request.`,
      clientRequestId,
    );
  }
  const malformed = groupIds.find((g) => !GUID.test(g));
  if (malformed !== undefined) {
    return graphError(400, 'Request_BadRequest', `Invalid GUID:${malformed}`, clientRequestId);
  }
  const userId = resolveUser(directory, decodeURIComponent(objectId));
  if (!userId) {
    // Graph's wording for a missing directory object.
    return graphError(
      404,
      'Request_ResourceNotFound',
      `Resource '${objectId}' does not exist or one of its queried reference-property objects are not present.`,
      clientRequestId,
    );
  }
  const value = (groupIds as string[]).filter((g) => isMember(directory, userId, g.toLowerCase(), new Set()));
  return {
    status: 200,
    body: { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)', value },
  };
}

function hasPermissions(roles: string[]): boolean {
  const has = (r: string) => roles.includes(r);
  const users = has('User.Read.All') || has('Directory.Read.All') || has('User.ReadBasic.All');
  const groups = has('GroupMember.Read.All') || has('Group.Read.All') || has('Directory.Read.All');
  return users && groups;
}

function resolveUser(directory: GraphDirectory, idOrUpn: string): string | undefined {
  const byUpn = directory.principalNames?.[idOrUpn.toLowerCase()];
  if (byUpn) return byUpn.toLowerCase();
  const id = idOrUpn.toLowerCase();
  const groupMembers = Object.values(directory.groups).flat();
  const all = [...(directory.users ?? []), ...groupMembers].map((u) => u.toLowerCase());
  const isGroup = Object.keys(directory.groups).some((g) => g.toLowerCase() === id);
  return all.includes(id) && !isGroup ? id : undefined;
}

/** Transitive membership: directly in the group, or in a group nested in it. */
function isMember(directory: GraphDirectory, userId: string, groupId: string, seen: Set<string>): boolean {
  if (seen.has(groupId)) return false;
  seen.add(groupId);
  const entry = Object.entries(directory.groups).find(([g]) => g.toLowerCase() === groupId);
  if (!entry) return false;
  const members = entry[1].map((m) => m.toLowerCase());
  if (members.includes(userId)) return true;
  return members.some((m) => isMember(directory, userId, m, seen));
}

/** Graph's error body {error: {code, message, innerError: {date, request-id, client-request-id}}}. */
export function graphError(status: number, code: string, message: string, clientRequestId?: string): Answer {
  const requestId = randomUUID();
  return {
    status,
    headers: { 'request-id': requestId, 'client-request-id': clientRequestId ?? requestId },
    body: {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d+Z$/, ''),
          'request-id': requestId,
          'client-request-id': clientRequestId ?? requestId,
        },
      },
    },
  };
}
