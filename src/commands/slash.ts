import { z } from 'zod';
import { coinIdSchema } from '../market/record.js';
import { durationSchema } from './duration.js';
import { type TopArgs, topArgsSchema } from './top.js';

/** A `/crypto` request after parsing, or the reason it could not be parsed. */
export type SlashRequest =
  | { name: 'top'; args: TopArgs }
  | { name: 'status' }
  | { name: 'chart'; args: { asset: string; since: number } }
  | { name: 'retrain' }
  | { name: 'provision'; apply: boolean }
  | { name: 'help' }
  | { name: 'usage'; problem: string };

/** Longer texts are not commands; they are answered with the usage and never parsed further. */
const MAX_TEXT = 200;

const chartArgsSchema = z.object({ asset: coinIdSchema, since: durationSchema.default(24 * 3_600_000) });

/** Parses the text after `/crypto`; anything unknown or malformed becomes a usage answer. */
export function parseSlashText(text: string): SlashRequest {
  if (text.length > MAX_TEXT)
    return { name: 'usage', problem: `That is too long for a command (${text.length} characters).` };
  const [name = 'help', ...rest] = text.trim().split(/\s+/).filter(Boolean);
  switch (name.toLowerCase()) {
    case 'help':
      return { name: 'help' };
    case 'status':
      return rest.length === 0 ? { name: 'status' } : usage('`status` takes no arguments.');
    case 'retrain':
      return rest.length === 0 ? { name: 'retrain' } : usage('`retrain` takes no arguments.');
    case 'provision':
      if (rest.length === 0) return { name: 'provision', apply: false };
      return rest.length === 1 && rest[0]?.toLowerCase() === 'apply'
        ? { name: 'provision', apply: true }
        : usage('`provision` takes nothing (a plan) or `apply`.');
    case 'top': {
      const raw: Record<string, string> = {};
      for (const token of rest) {
        const slot = /^\d+$/.test(token) ? 'limit' : /^\d+[a-z]$/i.test(token) ? 'since' : 'asset';
        if (raw[slot] !== undefined)
          return usage(`\`top\` got two values for ${slot === 'limit' ? 'N' : slot}.`);
        raw[slot] = token;
      }
      const parsed = topArgsSchema.safeParse(raw);
      return parsed.success ? { name: 'top', args: parsed.data } : usage(describe(parsed.error));
    }
    case 'chart': {
      if (rest.length === 0 || rest.length > 2)
        return usage('`chart` needs an asset, e.g. `/crypto chart bitcoin 24h`.');
      const parsed = chartArgsSchema.safeParse({ asset: rest[0], since: rest[1] });
      return parsed.success ? { name: 'chart', args: parsed.data } : usage(describe(parsed.error));
    }
    default:
      return usage(`\`${name.slice(0, 40)}\` is not a command I know.`);
  }
}

function usage(problem: string): SlashRequest {
  return { name: 'usage', problem };
}

function describe(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = String(issue.path[0] ?? '');
      if (field === 'limit') return issue.message;
      if (field === 'asset') return 'The asset must be a CoinGecko id such as bitcoin or ethereum.';
      return `The period ${issue.message.replace(/^must be/, 'must be')}.`;
    })
    .join(' ');
}
