import type { z } from 'zod';

/**
 * The grammar shared by the chat commands: a command's tokens (the words after its name) become its
 * arguments, or a sentence saying what was wrong. Each command's own grammar is its entry's `parse`
 * (registry.ts).
 */
export type Parsed<A> = { ok: true; args: A } | { ok: false; problem: string };

/** Longer texts are not commands; they are answered with the usage and never parsed further. */
export const MAX_TEXT = 200;

/** The arguments of a command that takes none. */
export type NoArgs = Record<string, never>;

export function parsed<A>(args: A): Parsed<A> {
  return { ok: true, args };
}

export function problem(sentence: string): Parsed<never> {
  return { ok: false, problem: sentence };
}

/** The grammar of a command that takes no arguments. */
export function noArguments(name: string): (tokens: readonly string[]) => Parsed<NoArgs> {
  return (tokens) => (tokens.length === 0 ? parsed({}) : problem(`\`${name}\` takes no arguments.`));
}

/** A zod error on a command's arguments, as sentences. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = String(issue.path[0] ?? '');
      if (field === 'limit') return issue.message;
      if (field === 'asset') return 'The asset must be a CoinGecko id such as bitcoin or ethereum.';
      return `The period ${issue.message}.`;
    })
    .join(' ');
}
