import type { Reply } from '../domain/reply.js';
import { deploymentOf } from '../platform/capabilities.js';
import type { Platform } from '../platform/port.js';
import { type Parsed, parsed, problem } from './slash.js';

/** `provision` (a plan) or `provision apply`. */
export function provisionTokens(tokens: readonly string[]): Parsed<{ apply: boolean }> {
  if (tokens.length === 0) return parsed({ apply: false });
  return tokens.length === 1 && tokens[0]?.toLowerCase() === 'apply'
    ? parsed({ apply: true })
    : problem('`provision` takes nothing (a plan) or `apply`.');
}

/** What provisioning would change (plan) or changed (apply), asset by asset. */
export async function provisionCommand(apply: boolean, deps: { platform: Platform }): Promise<Reply> {
  const deployment = deploymentOf(deps.platform);
  const result = await deployment.provision(apply);
  // Where the dashboard it published is (a lookup that fails leaves the link out, not the apply).
  const dashboard = apply ? await deployment.dashboardUrl().catch(() => undefined) : undefined;
  const count = (action: string) => result.items.filter((i) => i.action === action).length;
  const changes = count('create') + count('update');
  const summary = apply
    ? changes === 0
      ? 'Everything was already as defined; nothing changed.'
      : `Applied: ${count('create')} created, ${count('update')} updated, ${count('unchanged')} unchanged.`
    : changes === 0
      ? 'Everything is as defined; `apply` would change nothing.'
      : `Plan: ${count('create')} to create, ${count('update')} to update, ${count('unchanged')} unchanged. Run with --apply (or \`/crypto provision apply\`) to make it so.`;
  return {
    title: apply ? 'Databricks provisioning: applied' : 'Databricks provisioning: plan',
    summary,
    ...(dashboard ? { fields: [{ label: 'Dashboard', value: dashboard }] } : {}),
    tables: [
      {
        columns: [
          { header: 'asset' },
          { header: 'name' },
          { header: apply ? 'done' : 'action' },
          { header: 'why' },
        ],
        rows: result.items.map((i) => [i.kind, i.name, i.action, i.detail ?? '']),
      },
    ],
    data: result,
  };
}
