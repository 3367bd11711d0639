/**
 * ANSI mode as a Databricks SQL warehouse enforces it, for the casts the loopback warehouse can
 * see in the statement text. Databricks SQL runs with ANSI_MODE = TRUE (the system default for
 * accounts created since October 2022:
 * https://docs.databricks.com/sql/language-manual/parameters/ansi_mode.html), and under ANSI mode a
 * cast of a STRING that is not a well-formed value of the target type raises CAST_INVALID_INPUT
 * (SQLSTATE 22018) instead of returning NULL
 * (https://docs.databricks.com/sql/language-manual/functions/cast.html,
 * https://docs.databricks.com/sql/language-manual/sql-ref-ansi-compliance.html). `try_cast` returns
 * NULL instead (https://docs.databricks.com/sql/language-manual/functions/try_cast.html).
 *
 * Rules, each the stricter reading where the documentation is silent:
 * - `CAST(<string literal> AS <type>)` and `CAST(:param AS <type>)` with a STRING-typed bound value
 *   (and the same with the `::` synonym of CAST) are checked wherever they appear in the statement, also in a branch that would never be
 *   evaluated (`CASE WHEN true THEN 1 ELSE CAST('' AS TIMESTAMP) END`, `:p = '' OR ... CAST(:p ...)`):
 *   Spark folds constant expressions while planning (the ConstantFolding optimizer rule), so a
 *   constant cast fails before any row is read.
 * - `try_cast(...)` is never an error for a malformed value.
 * - A NULL (an unbound-typed NULL parameter, VOID) casts to NULL.
 * - A parameter declared with a non-string type is parsed as that type when it is bound
 *   (handlers.ts), which fails the same way for a malformed value.
 * Accepted forms follow the cast page: TIMESTAMP `yyyy[-[m]m[-[d]d[( |T)[h]h[:[m]m[:[s]s[.f…]]]]]]`
 * with an optional zone (Z, ±hh[:mm], UTC); DATE `yyyy[-[m]m[-[d]d]]` optionally followed by ` ` or
 * `T` and a time; integral types digits only (a fraction is rejected), within the type's range;
 * DOUBLE/FLOAT decimal or exponent notation, NaN and Infinity; DECIMAL decimal or exponent notation
 * within the declared precision; BOOLEAN t/true/y/yes/1 and f/false/n/no/0 (case-insensitive).
 * Leading and trailing white space is trimmed.
 */

export interface AnsiParameter {
  name: string | undefined;
  type: string;
  text: string | null;
}

export class CastInvalidInput extends Error {
  readonly sqlState = '22018';
}

/** Throws CAST_INVALID_INPUT for the first constant cast in `sql` whose string value is malformed. */
export function checkAnsiCasts(sql: string, parameters: readonly AnsiParameter[]): void {
  for (const cast of constantCasts(sql)) {
    let value: string | null;
    if (cast.literal !== undefined) value = cast.literal;
    else {
      const p = parameters.find((q) => q.name === cast.param);
      if (!p || p.text === null) continue; // unbound is reported when binding; NULL casts to NULL
      const type = p.type.replace(/\(.*$/, '').trim();
      if (!['STRING', 'VARCHAR', 'CHAR'].includes(type)) continue; // typed: parsed when bound
      value = p.text;
    }
    if (!validFor(cast.type, value)) {
      const target = cast.type.toUpperCase().replace(/\s+/g, '');
      throw new CastInvalidInput(
        `[CAST_INVALID_INPUT] The value '${value}' of the type "STRING" cannot be cast to "${target}" because it is malformed. Correct the value as per the syntax, or change its target type. Use \`try_cast\` to tolerate malformed input and return NULL instead. SQLSTATE: 22018`,
      );
    }
  }
}

interface ConstantCast {
  literal?: string;
  param?: string;
  type: string;
}

/** `CAST('…' AS type)` and `CAST(:name AS type)` outside comments (not `try_cast`). */
function constantCasts(sql: string): ConstantCast[] {
  const text = stripComments(sql);
  const found: ConstantCast[] = [];
  // \b before CAST: `try_cast` has a word character before `cast`, so it does not match.
  const pattern =
    /\bCAST\s*\(\s*(?:'((?:[^'\\]|''|\\.)*)'|:([A-Za-z_]\w*))\s+AS\s+([A-Za-z_]+(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?)\s*\)/gi;
  // `expr::type` is a synonym of CAST (the cast page), so `'…'::type` and `:name::type` count too.
  const colons =
    /(?:'((?:[^'\\]|''|\\.)*)'|(?<![\w:]):([A-Za-z_]\w*))\s*::\s*([A-Za-z_]+(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?)/g;
  for (const m of [...text.matchAll(pattern), ...text.matchAll(colons)]) {
    const type = m[3] as string;
    if (m[1] !== undefined) found.push({ literal: unquote(m[1]), type });
    else found.push({ param: m[2] as string, type });
  }
  return found;
}

/** The text with -- and /* *\/ comments blanked out (string literals kept as they are). */
function stripComments(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] as string;
    if (ch === "'" || ch === '"' || ch === '`') {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === '\\' && ch === "'") j += 2;
        else if (sql[j] === ch) {
          if (sql[j + 1] === ch) j += 2;
          else break;
        } else j += 1;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
      out += ' ';
    } else if (ch === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
      out += ' ';
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

function unquote(body: string): string {
  return body.replace(/''/g, "'").replace(/\\(.)/g, '$1');
}

const INTEGRAL: Record<string, bigint> = {
  TINYINT: 127n,
  BYTE: 127n,
  SMALLINT: 32_767n,
  SHORT: 32_767n,
  INT: 2_147_483_647n,
  INTEGER: 2_147_483_647n,
  BIGINT: 9_223_372_036_854_775_807n,
  LONG: 9_223_372_036_854_775_807n,
};

const ZONE = String.raw`(?:Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)`;
const TIMESTAMP = new RegExp(
  String.raw`^[+-]?(\d{4,})(?:-(\d{1,2})(?:-(\d{1,2})(?:[ T](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.\d{0,9})?)?)?)?)?)?\s*${ZONE}?$`,
  'i',
);
const DATE = /^[+-]?(\d{4,})(?:-(\d{1,2})(?:-(\d{1,2})(?:[ T].*)?)?)?$/s;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Whether `raw` is a well-formed value of the Spark type `type` (unknown types are not checked). */
export function validFor(type: string, raw: string): boolean {
  const value = raw.trim();
  const base = type.replace(/\(.*$/, '').trim().toUpperCase();
  if (base in INTEGRAL) {
    if (!/^[+-]?\d+$/.test(value)) return false;
    const n = BigInt(value);
    const max = INTEGRAL[base] as bigint;
    return n <= max && n >= -max - 1n;
  }
  switch (base) {
    case 'TIMESTAMP':
    case 'TIMESTAMP_NTZ':
    case 'TIMESTAMP_LTZ': {
      const m = TIMESTAMP.exec(value);
      return m !== null && inRange(m);
    }
    case 'DATE': {
      const m = DATE.exec(value);
      return m !== null && inRange(m);
    }
    case 'DOUBLE':
    case 'FLOAT':
    case 'REAL':
      return NUMBER.test(value) || /^[+-]?(?:NaN|Infinity|Inf)$/i.test(value);
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC': {
      if (!NUMBER.test(value)) return false;
      const declared = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(type);
      const precision = Number(declared?.[1] ?? 10);
      const scale = Number(declared?.[2] ?? 0);
      const whole = Math.trunc(Math.abs(Number(value)));
      return String(whole === 0 ? '' : whole).length <= precision - scale;
    }
    case 'BOOLEAN':
      return /^(?:t|true|y|yes|1|f|false|n|no|0)$/i.test(value);
    default:
      return true;
  }
}

/** Month 1–12, day 1–(days of that month), hour < 24, minute and second < 60. */
function inRange(m: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) =>
    v === undefined ? undefined : Number(v),
  );
  if (month !== undefined && (month < 1 || month > 12)) return false;
  if (day !== undefined) {
    const days = new Date(Date.UTC(year as number, month as number, 0)).getUTCDate();
    if (day < 1 || day > days) return false;
  }
  if (hour !== undefined && hour > 23) return false;
  if (minute !== undefined && minute > 59) return false;
  if (second !== undefined && second > 59) return false;
  return true;
}
