import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `xs.push(...ys)`, `Math.max(...ys)` and the like pass every element as a call argument, on the
 * stack: past some 100,000 elements V8 throws "Maximum call stack size exceeded". A long simulator
 * catch-up or a large CoinGecko answer did exactly that, on every run. This scan keeps such calls
 * out of the project's TypeScript; copy with a loop, fold with reduce.
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const FOLDERS = ['src', 'tests', 'bench', 'databricks'];
/** Calls whose arguments must not be spread. */
const CALLS = /(?:\.push|\.unshift|\bMath\.max|\bMath\.min|\bString\.fromCharCode|\.fromCodePoint)\(/g;

async function tsFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch {
    return [];
  }
  return entries
    .filter((f) => f.endsWith('.ts') && !f.split(/[\\/]/).includes('node_modules'))
    .map((f) => join(dir, f));
}

/**
 * The text with comments and the literal parts of strings blanked (same length, newlines kept), so
 * that only code is scanned; the code inside a template's `${…}` stays.
 */
function codeOnly(text: string): string {
  const out = text.split('');
  /** Per open template: how many `{` deep its current `${…}` is; -1 while in its literal text. */
  const templates: number[] = [];
  let i = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  const skipString = (quote: string) => {
    const from = i++;
    while (i < text.length && text[i] !== quote && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
    blank(from + 1, i);
    i++;
  };
  while (i < text.length) {
    const c = text[i] as string;
    const inTemplateText = templates.length > 0 && templates.at(-1) === -1;
    if (inTemplateText) {
      const from = i;
      while (i < text.length && text[i] !== '`' && !text.startsWith('${', i)) i += text[i] === '\\' ? 2 : 1;
      blank(from, i);
      if (text[i] === '`') templates.pop();
      else templates[templates.length - 1] = 0;
      i += text[i] === '`' ? 1 : 2;
      continue;
    }
    if (text.startsWith('//', i)) {
      const end = text.indexOf('\n', i);
      const to = end === -1 ? text.length : end;
      blank(i, to);
      i = to;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      const to = end === -1 ? text.length : end + 2;
      blank(i, to);
      i = to;
    } else if (c === "'" || c === '"') skipString(c);
    else if (c === '`') {
      templates.push(-1);
      i++;
    } else {
      if (templates.length > 0) {
        const depth = templates.at(-1) as number;
        if (c === '{') templates[templates.length - 1] = depth + 1;
        else if (c === '}') templates[templates.length - 1] = depth === 0 ? -1 : depth - 1;
      }
      i++;
    }
  }
  return out.join('');
}

/** The `...` spreads among the call's own arguments (not inside an object, array or nested call). */
function spreadArguments(source: string): number[] {
  const text = codeOnly(source);
  const hits: number[] = [];
  for (const match of text.matchAll(CALLS)) {
    let depth = 0;
    for (let i = (match.index ?? 0) + match[0].length; i < text.length; i++) {
      const c = text[i] as string;
      if (c === '(' || c === '[' || c === '{') depth++;
      else if (c === ')' || c === ']' || c === '}') {
        if (depth === 0) break;
        depth--;
      } else if (depth === 0 && text.startsWith('...', i)) {
        hits.push(match.index ?? 0);
        break;
      }
    }
  }
  return hits;
}

describe('no call spreads an array onto the stack', () => {
  it('finds the patterns it is meant to find, and leaves object and array spreads alone', () => {
    expect(spreadArguments('out.push(...rows);')).toHaveLength(1);
    expect(spreadArguments("out.push('', ...rows.map((r) => r.id));")).toHaveLength(1);
    expect(spreadArguments('const m = Math.max(0, ...values);')).toHaveLength(1);
    expect(spreadArguments('Math.min(...a.map((x) => x.t))')).toHaveLength(1);
    expect(spreadArguments('seen.push({ ...row, extra: 1 });')).toEqual([]);
    expect(spreadArguments('seen.push([...row]);')).toEqual([]);
    expect(spreadArguments('Math.max(a, f(...b));')).toEqual([]);
    expect(spreadArguments("out.push('...', x);")).toEqual([]);
    expect(spreadArguments('// out.push(...rows)\n/* Math.max(...xs) */')).toEqual([]);
    expect(spreadArguments("const s = 'Math.max(...xs)';")).toEqual([]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text holding a template, for the scanner
    expect(spreadArguments('const s = `from ${Math.min(...times)} on`;')).toHaveLength(1);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text holding a template, for the scanner
    expect(spreadArguments('const s = `a ${`b ${x}`} c`; out.push(...rows);')).toHaveLength(1);
  });

  it('holds for every .ts file of src, tests, bench and databricks', async () => {
    const offenders: string[] = [];
    for (const folder of FOLDERS) {
      for (const file of await tsFiles(join(ROOT, folder))) {
        const text = await readFile(file, 'utf8');
        for (const at of spreadArguments(text)) {
          const line = text.slice(0, at).split('\n').length;
          offenders.push(`${relative(ROOT, file)}:${line}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
