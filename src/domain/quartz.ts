/**
 * Unix cron ⇄ Quartz cron, for Databricks job schedules.
 *
 * - Unix cron (what chat users type and node-cron runs, in UTC):
 *   `minute hour day-of-month month day-of-week`, day-of-week 0-7 (0 and 7 = Sunday) or SUN-SAT;
 *   https://man7.org/linux/man-pages/man5/crontab.5.html
 * - Quartz cron (`schedule.quartz_cron_expression` of the Databricks Jobs API,
 *   https://docs.databricks.com/api/workspace/jobs/create):
 *   `seconds minutes hours day-of-month month day-of-week [year]`, day-of-week 1-7 (1 = Sunday) or SUN-SAT,
 *   exactly one of day-of-month and day-of-week is `?`, plus L, W and # which Unix cron lacks;
 *   http://www.quartz-scheduler.org/documentation/quartz-2.3.0/tutorials/crontrigger.html
 *
 * Both directions accept only numbers, names, `*`, ranges `a-b`, lists and steps (`*` or a range before
 * `/n`; Quartz also `a/n`), with every number in its field's range and steps from 1 to the field's maximum.
 */

/** A Unix cron expression as a Quartz one, or a sentence for a chat user saying why it has none. */
export type CronToQuartzResult = { ok: true; quartz: string } | { ok: false; problem: string };

/** A Quartz cron expression as a Unix cron one, or a sentence for a chat user saying why it has none. */
export type QuartzToCronResult = { ok: true; cron: string } | { ok: false; problem: string };

interface FieldSpec {
  label: string;
  min: number;
  max: number;
  /** Names in order; a name's value is its index plus `nameBase`. */
  names?: readonly string[];
  nameBase?: number;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const MINUTE: FieldSpec = { label: 'minute', min: 0, max: 59 };
const HOUR: FieldSpec = { label: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { label: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldSpec = { label: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 };
const CRON_WEEKDAY: FieldSpec = { label: 'day-of-week', min: 0, max: 7, names: DAYS, nameBase: 0 };
const QUARTZ_WEEKDAY: FieldSpec = { label: 'day-of-week', min: 1, max: 7, names: DAYS, nameBase: 1 };

/** One list item of a field: `*`, `v`, `a-b`, each with an optional `/step`. Texts are uppercased. */
interface Item {
  star: boolean;
  start: number;
  startText: string;
  end?: number;
  endText?: string;
  step?: number;
}

const CRON_FIELDS = '5 fields (minute hour day-of-month month day-of-week)';
const QUARTZ_FIELDS = '6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year])';

function refuse(problem: string): { ok: false; problem: string } {
  return { ok: false, problem };
}

const ITEM = /^(\*|[0-9]+|[A-Z]+)(?:-([0-9]+|[A-Z]+))?(?:\/([0-9]+))?$/;

function fieldValue(text: string, spec: FieldSpec): number | undefined {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    return n >= spec.min && n <= spec.max ? n : undefined;
  }
  const index = spec.names?.indexOf(text) ?? -1;
  return index < 0 ? undefined : index + (spec.nameBase ?? 0);
}

function rangeHint(spec: FieldSpec): string {
  const names = spec.names ? ` or ${spec.names[0]}-${spec.names[spec.names.length - 1]}` : '';
  return `${spec.min}-${spec.max}${names}`;
}

/**
 * The items of one field, or a sentence naming the field. `singleStep` allows Quartz's `a/n`;
 * `wrap` allows a range whose start is after its end (node-cron runs `FRI-SUN` as Friday to Sunday).
 */
function parseField(field: string, spec: FieldSpec, singleStep: boolean, wrap = false): Item[] | string {
  const items: Item[] = [];
  const bad = `The ${spec.label} field \`${field}\``;
  for (const part of field.toUpperCase().split(',')) {
    const [matched, first = '', second, stepText] = ITEM.exec(part) ?? [];
    const unknownName = (t?: string) => t !== undefined && /^[A-Z]/.test(t) && !spec.names?.includes(t);
    if (!matched || (first === '*' && second !== undefined) || unknownName(first) || unknownName(second)) {
      return (
        `${bad} is not understood: use numbers${spec.names ? ' or names' : ''}, \`*\`, ` +
        'ranges such as `1-5`, lists and steps such as `*/2`.'
      );
    }
    const star = first === '*';
    const start = star ? spec.min : fieldValue(first, spec);
    const end = second === undefined ? undefined : fieldValue(second, spec);
    if (start === undefined || (second !== undefined && end === undefined)) {
      return `${bad} is out of range: the ${spec.label} takes values ${rangeHint(spec)}.`;
    }
    if (end !== undefined && end < start && !wrap) {
      return `${bad} has a range that starts after it ends: write it as two ranges in a list.`;
    }
    const step = stepText === undefined ? undefined : Number(stepText);
    if (step !== undefined && (step < 1 || step > spec.max)) {
      return `${bad} has a step of ${step}: the step must be from 1 to ${spec.max}.`;
    }
    if (step !== undefined && !star && end === undefined && !singleStep) {
      const range = `${first}-${spec.max}/${step}`;
      return `${bad} puts a step after a single value: write a range before the step, such as \`${range}\`.`;
    }
    items.push({ star, start, startText: first, end, endText: second, step });
  }
  return items;
}

/** The values a field's items select, within `first..last` (a range may wrap past `last`). */
function valuesOf(items: Item[], first: number, last: number): Set<number> {
  const size = last - first + 1;
  const values = new Set<number>();
  for (const item of items) {
    const from = item.star ? first : item.start;
    const to = item.star ? last : (item.end ?? (item.step === undefined ? item.start : last));
    const span = (((to - from) % size) + size) % size;
    for (let offset = 0; offset <= (to >= from ? to - from : span); offset += item.step ?? 1) {
      values.add(((from + offset - first) % size) + first);
    }
  }
  return values;
}

/** `1,3,4,5` → `1,3-5`. */
function compact(values: number[]): string {
  const runs: [number, number][] = [];
  for (const value of values) {
    const last = runs[runs.length - 1];
    if (last && value === last[1] + 1) last[1] = value;
    else runs.push([value, value]);
  }
  return runs.map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`)).join(',');
}

function joinItems(items: Item[], format: (item: Item) => string): string {
  return items.map(format).join(',');
}

/** A cron item for Quartz: `*` stays, `*\/n` starts at the field's first value, the rest passes through. */
function toQuartzItem(item: Item, spec: FieldSpec): string {
  const step = item.step === undefined ? '' : `/${item.step}`;
  if (item.star) return step ? `${spec.min}${step}` : '*';
  const mixed = item.endText !== undefined && /^[0-9]/.test(item.startText) !== /^[0-9]/.test(item.endText);
  if (mixed) return `${item.start}-${item.end}${step}`;
  return `${item.startText}${item.endText === undefined ? '' : `-${item.endText}`}${step}`;
}

/**
 * The Quartz expression (seconds `0`, no year) that runs at the same UTC minutes as a 5-field Unix cron
 * expression under node-cron, or a sentence saying why there is none. Day-of-week becomes Quartz numbers
 * 1-7 (cron `1-5` → `2-6`); the unrestricted one of day-of-month and day-of-week becomes `?`.
 */
export function cronToQuartz(cron: string): CronToQuartzResult {
  const text = cron.trim();
  const fields = text.split(/\s+/);
  if (fields.length === 6) {
    return refuse(`\`${text}\` has 6 fields: write the schedule as ${CRON_FIELDS}, without seconds.`);
  }
  if (fields.length !== 5) {
    return refuse(`\`${text}\` is not a cron expression: write ${CRON_FIELDS}, such as \`0 9 * * 1-5\`.`);
  }
  const [minuteText = '', hourText = '', domText = '', monthText = '', dowText = ''] = fields;
  const parsed = [
    parseField(minuteText, MINUTE, false),
    parseField(hourText, HOUR, false),
    parseField(domText === '?' ? '*' : domText, DAY_OF_MONTH, false),
    parseField(monthText, MONTH, false),
    parseField(dowText === '?' ? '*' : dowText, CRON_WEEKDAY, false, true),
  ];
  const problem = parsed.find((p) => typeof p === 'string');
  if (typeof problem === 'string') return refuse(problem);
  const [minute = [], hour = [], dom = [], month = [], dow = []] = parsed as Item[][];
  const quartzField = (items: Item[], spec: FieldSpec) => joinItems(items, (i) => toQuartzItem(i, spec));
  const head = `0 ${quartzField(minute, MINUTE)} ${quartzField(hour, HOUR)}`;
  const monthField = quartzField(month, MONTH);
  // node-cron runs 0-6 (7 is Sunday too); Quartz numbers are one more: Sunday is 1.
  const days = [...valuesOf(dow, 0, 6)].map((d) => d + 1).sort((a, b) => a - b);
  if (days.length === 7) {
    return {
      ok: true,
      quartz: `${head} ${quartzField(dom, DAY_OF_MONTH)} ${monthField} ?`,
    };
  }
  if (valuesOf(dom, 1, 31).size === 31) {
    return { ok: true, quartz: `${head} ? ${monthField} ${compact(days)}` };
  }
  return refuse(
    'Databricks (Quartz) schedules cannot restrict both the day of the month and the weekday: ' +
      `\`${text}\` sets day-of-month \`${domText}\` and day-of-week \`${dowText}\`, and Quartz needs ` +
      'one of the two to be unrestricted; keep one of them as `*`.',
  );
}

/** A Quartz item for cron: `0/n` or `1/n` (the field's first value) → `*\/n`, other `x/n` → `x-max/n`. */
function toCronItem(item: Item, spec: FieldSpec, shift = 0): string {
  const step = item.step === undefined ? '' : `/${item.step}`;
  if (item.star) return `*${step}`;
  const text = (t: string, n: number) => (/^[0-9]/.test(t) ? `${n - shift}` : t);
  if (item.end === undefined || item.endText === undefined) {
    if (!step) return text(item.startText, item.start);
    if (item.start === spec.min) return `*${step}`;
    const max = /^[0-9]/.test(item.startText)
      ? `${spec.max - shift}`
      : (spec.names?.[spec.names.length - 1] ?? '');
    return `${text(item.startText, item.start)}-${max}${step}`;
  }
  return `${text(item.startText, item.start)}-${text(item.endText, item.end)}${step}`;
}

/**
 * The 5-field Unix cron expression (UTC, as node-cron runs it) for a Databricks job's Quartz schedule, or a
 * sentence saying why there is none: seconds other than `0`, a year, or Quartz's L, W and #.
 */
export function quartzToCron(quartz: string): QuartzToCronResult {
  const text = quartz.trim();
  const fields = text.split(/\s+/);
  if (fields.length !== 6 && fields.length !== 7) {
    return refuse(`\`${text}\` is not a Quartz cron expression: it needs ${QUARTZ_FIELDS}.`);
  }
  const [seconds = '', minuteText = '', hourText = '', domText = '', monthText = '', dowText = '', year] =
    fields;
  if (!/^0+$/.test(seconds)) {
    return refuse(
      `\`${text}\` runs at second \`${seconds}\` of the minute: Unix cron schedules have minute ` +
        'resolution, so only seconds `0` can be read back.',
    );
  }
  if (year !== undefined && year !== '*') {
    return refuse(`\`${text}\` is limited to year \`${year}\`: Unix cron has no year field.`);
  }
  const stripped = `${domText} ${dowText}`
    .toUpperCase()
    .replace(/[A-Z]{3}/g, (name) => (DAYS.includes(name) ? '' : name));
  if (/[LW#]/.test(stripped)) {
    return refuse(
      `\`${text}\` uses Quartz's L, W or # (last day, nearest weekday, nth weekday of the month), ` +
        'which have no Unix cron equivalent.',
    );
  }
  if ((domText === '?') === (dowText === '?')) {
    return refuse(
      `\`${text}\` is not a valid Quartz schedule: exactly one of day-of-month and day-of-week must be ` +
        '`?`.',
    );
  }
  const pairs: [string, FieldSpec][] = [
    [minuteText, MINUTE],
    [hourText, HOUR],
    [domText === '?' ? '*' : domText, DAY_OF_MONTH],
    [monthText, MONTH],
    [dowText === '?' ? '*' : dowText, QUARTZ_WEEKDAY],
  ];
  const out: string[] = [];
  for (const [field, spec] of pairs) {
    const items = parseField(field, spec, true);
    if (typeof items === 'string') return refuse(items);
    // Quartz day-of-week numbers are one more than cron's: 1 (Sunday) → 0.
    out.push(joinItems(items, (item) => toCronItem(item, spec, spec === QUARTZ_WEEKDAY ? 1 : 0)));
  }
  return { ok: true, cron: out.join(' ') };
}
