import type { Reply } from '../domain/reply.js';

/**
 * The usage text, optionally after a sentence saying what was wrong with the request. Its lines
 * come from the command registry (`usageReply` there), one per command.
 */
export function helpCommand(lines: readonly string[], problem?: string): Reply {
  return {
    title: problem ? 'That command did not work' : 'crypto-risk-monitor commands',
    summary: problem,
    fields: undefined,
    notes: [...lines],
    data: { problem: problem ?? null, usage: [...lines] },
  };
}
