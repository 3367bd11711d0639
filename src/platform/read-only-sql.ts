import { ExitCode, UserError } from '../errors.js';

/**
 * The check behind `crypto-risk sql`: the text must be exactly one statement that only reads.
 * It is decided on tokens (strings, quoted identifiers, comments and statement separators are
 * recognised, so a `;` or a keyword inside them counts for nothing), never on the first word of the
 * raw text. It is a guard against mistakes, not a security boundary: the real guarantee is a
 * principal that may only read (see README, Databricks).
 *
 * Why not a parser library: node-sql-parser 5.4.0 has no Spark/Databricks dialect (tried: its Hive
 * one fails on `TABLE t`, `SHOW TABLES IN c.s`, `DESCRIBE TABLE t` and three-part names in
 * backticks, all ordinary Databricks SQL), and dt-sql-parser
 * 4.5.1, which has a Spark SQL grammar, ships ES modules with directory imports that Node 20
 * cannot load. The grammar needed to decide "reads only" is small, so it is written here and is
 * stricter than the languages: anything it cannot place is refused.
 *
 * Rules (Databricks SQL language reference):
 * - a query is `[common_table_expression] subquery …` where a subquery is a SELECT, a VALUES
 *   clause, `( query )`, `TABLE name` or (Runtime 16.2+) `FROM table_reference`
 *   (https://docs.databricks.com/sql/language-manual/sql-ref-syntax-qry-query.html); a CTE is
 *   `WITH name [ (columns) ] [ AS ] ( query ) [, …]`
 *   (https://learn.microsoft.com/azure/databricks/sql/language-manual/sql-ref-syntax-qry-select-cte).
 *   A CTE list may also precede INSERT, MERGE, UPDATE or DELETE, so the keyword after the list
 *   decides, not the WITH. `FROM t …` first is refused: the same FROM-first form also starts a
 *   multi-table INSERT in Spark SQL.
 * - `EXPLAIN [ EXTENDED | CODEGEN | COST | FORMATTED ] statement` only plans
 *   (https://docs.databricks.com/gcp/en/sql/language-manual/sql-ref-syntax-qry-explain); the
 *   explained statement must itself be read-only here. DuckDB's `EXPLAIN ANALYZE` "runs the query"
 *   (https://duckdb.org/docs/1.5/sql/statements/profiling.html); measured with DuckDB 1.5: an
 *   `EXPLAIN ANALYZE COPY … TO 'file'` writes the file. ANALYZE is refused in every dialect.
 * - SHOW and DESCRIBE (also DESC) only read metadata and are accepted.
 * - Strings: Databricks string literals take backslash escapes unless prefixed with r (raw), and
 *   may be delimited with " as well as '
 *   (https://docs.databricks.com/sql/language-manual/data-types/string-type.html); DuckDB's take
 *   none (quotes are doubled) except in E'…'. Delimited identifiers are in backticks, where ``
 *   stands for one backtick (https://docs.databricks.com/sql/language-manual/sql-ref-identifiers.html).
 * - Comments: `-- …` to the end of the line, and bracketed comments, which nest in Databricks
 *   (https://docs.databricks.com/sql/language-manual/sql-ref-syntax-comment.html) but not in
 *   DuckDB: a `/*` inside a comment is refused rather than guessed.
 * - The word INTO is refused anywhere outside strings and quoted names (`SELECT … INTO` writes in
 *   dialects that have it; no read-only statement here needs it).
 */

export type SqlDialect = 'databricks' | 'duckdb';

interface Token {
  kind: 'word' | 'string' | 'ident' | 'punct';
  text: string;
}

const READS = new Set(['SELECT', 'VALUES', 'TABLE', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN']);
/** DuckDB query forms whose statement type is SELECT (checked by DuckDB's parser too). */
const DUCKDB_READS = new Set(['FROM', 'SUMMARIZE', 'PIVOT', 'UNPIVOT']);
const EXPLAIN_OPTIONS = new Set(['EXTENDED', 'CODEGEN', 'COST', 'FORMATTED']);

const ONLY_READS = 'Only read-only queries (SELECT, VALUES, TABLE, SHOW, DESCRIBE, EXPLAIN) are allowed here';

function refuse(why: string): never {
  throw new UserError(`${why} Nothing was run.`, { exitCode: ExitCode.Usage });
}

/** Splits SQL text into tokens; comments and whitespace are dropped. */
export function tokenize(text: string, dialect: SqlDialect): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) refuse('The query has a comment that is never closed (/* without */).');
      if (text.slice(i + 2, end).includes('/*')) {
        refuse('Nested comments (/* inside /* … */) are not accepted here; remove the inner /*.');
      }
      i = end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      // A prefix glued to the quote changes escapes: Spark's raw string r'…' takes none, DuckDB's
      // E'…' takes backslash escapes.
      const prefix = /[A-Za-z0-9_$]/.test(text[i - 2] ?? ' ') ? '' : (text[i - 1] ?? '').toUpperCase();
      const backslash =
        c !== '`' && (dialect === 'databricks' ? prefix !== 'R' : prefix === 'E' && c === "'");
      let j = i + 1;
      let closed = false;
      while (j < n) {
        const d = text[j];
        if (backslash && d === '\\') {
          j += 2;
        } else if (d === c) {
          if (text[j + 1] === c) {
            j += 2;
          } else {
            closed = true;
            break;
          }
        } else {
          j++;
        }
      }
      if (!closed)
        refuse(`The query has a ${c === '`' ? 'quoted name' : 'string'} that is never closed (${c}).`);
      tokens.push({
        kind: c === '`' || (c === '"' && dialect === 'duckdb') ? 'ident' : 'string',
        text: text.slice(i, j + 1),
      });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$]/.test(text[j] as string)) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j).toUpperCase() });
      i = j;
    } else {
      tokens.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return tokens;
}

/** The statements of a token list, split at top-level `;` (empty ones dropped). */
function statements(tokens: Token[]): Token[][] {
  const out: Token[][] = [[]];
  for (const t of tokens) {
    if (t.kind === 'punct' && t.text === ';') out.push([]);
    else (out[out.length - 1] as Token[]).push(t);
  }
  return out.filter((s) => s.length > 0);
}

const isWord = (t: Token | undefined, ...words: string[]) =>
  t?.kind === 'word' && (words.length === 0 || words.includes(t.text));
const isPunct = (t: Token | undefined, p: string) => t?.kind === 'punct' && t.text === p;

/** The index just past the parenthesised group that starts at `i`. */
function skipGroup(s: Token[], i: number): number {
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    if (isPunct(s[j], '(')) depth++;
    else if (isPunct(s[j], ')') && --depth === 0) return j + 1;
  }
  return refuse('The query has a parenthesis that is never closed.');
}

/** The index of the keyword that decides what a statement does, after any WITH list. */
function leadingKeyword(s: Token[], start: number): number {
  let i = start;
  while (isPunct(s[i], '(')) i++;
  if (!isWord(s[i], 'WITH')) return i;
  i++;
  if (isWord(s[i], 'RECURSIVE')) i++;
  for (;;) {
    // name [(columns)] [AS] [[NOT] MATERIALIZED] (query)
    if (s[i]?.kind !== 'word' && s[i]?.kind !== 'ident')
      refuse(`${ONLY_READS}; the WITH list is not one this check can read.`);
    i++;
    while (isPunct(s[i], '(') || isWord(s[i], 'AS', 'NOT', 'MATERIALIZED')) {
      i = isPunct(s[i], '(') ? skipGroup(s, i) : i + 1;
    }
    if (!isPunct(s[i], ',')) break;
    i++;
  }
  while (isPunct(s[i], '(')) i++;
  return i;
}

function checkStatement(s: Token[], start: number, dialect: SqlDialect): void {
  const at = leadingKeyword(s, start);
  const keyword = s[at];
  if (keyword === undefined) refuse(`${ONLY_READS}; this check found no statement after the WITH list.`);
  const name = keyword.text;
  const reads = READS.has(name) || (dialect === 'duckdb' && DUCKDB_READS.has(name));
  if (keyword.kind !== 'word' || !reads) refuse(`${ONLY_READS}; this statement starts with ${name}.`);
  if (name === 'EXPLAIN') {
    let i = at + 1;
    if (isPunct(s[i], '(')) {
      // DuckDB's parenthesised options: EXPLAIN (ANALYZE, …) statement.
      const end = skipGroup(s, i);
      if (s.slice(i, end).some((t) => isWord(t, 'ANALYZE', 'ANALYSE'))) refuse(explainAnalyze);
      i = end;
    }
    while (isWord(s[i], ...EXPLAIN_OPTIONS)) i++;
    if (isWord(s[i], 'ANALYZE', 'ANALYSE')) refuse(explainAnalyze);
    if (i >= s.length) refuse('EXPLAIN needs a statement to explain.');
    checkStatement(s, i, dialect);
  }
}

const explainAnalyze = `EXPLAIN ANALYZE runs the statement it explains, so it is not allowed here; use EXPLAIN without ANALYZE.`;

/**
 * Throws a UserError (exit code 2) unless `text` is exactly one statement that only reads; answers
 * the statement without a trailing `;`.
 */
export function assertReadOnlySql(text: string, dialect: SqlDialect): string {
  const found = statements(tokenize(text, dialect));
  if (found.length !== 1) refuse(`Give exactly one statement (got ${found.length}).`);
  const [statement] = found as [Token[]];
  checkStatement(statement, 0, dialect);
  if (statement.some((t) => isWord(t, 'INTO'))) {
    refuse(`${ONLY_READS}; INTO is not allowed (it writes into a table or a variable).`);
  }
  return text.trim().replace(/[;\s]+$/, '');
}
