import { invalid } from './core.js';
import type { EventRecord, PipelineRecord } from './pipelines.js';

/** The `filter` parameters of the Pipelines API: pipelines list and pipeline events. */

/** `name LIKE '<pattern>'` (% and _ wildcards, '' for a quote) or `notebook='<path>'`; nothing else. */
export function filterPipelines(filter: string | undefined): (p: PipelineRecord) => boolean {
  if (filter === undefined || filter.trim() === '') return () => true;
  const like = /^\s*name\s+like\s+'((?:[^']|'')*)'\s*$/i.exec(filter);
  if (like) {
    const pattern = (like[1] ?? '').replace(/''/g, "'");
    const source = [...pattern]
      .map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    const re = new RegExp(`^${source}$`, 's');
    return (p) => re.test(String(p.spec.name ?? ''));
  }
  const notebook = /^\s*notebook\s*=\s*'((?:[^']|'')*)'\s*$/i.exec(filter);
  if (notebook) {
    const path = (notebook[1] ?? '').replace(/''/g, "'");
    return (p) =>
      Array.isArray(p.spec.libraries) &&
      p.spec.libraries.some((l) => JSON.stringify(l).includes(JSON.stringify(path)));
  }
  throw invalid(`Unsupported filter: ${filter}. Supported: name LIKE '<pattern>' or notebook='<path>'.`);
}

/** Conjunctions of `level`, `event_type`, `origin.update_id` or `timestamp` compared with a quoted value. */
export function filterEvents(filter: string | undefined): (e: EventRecord) => boolean {
  if (filter === undefined || filter.trim() === '') return () => true;
  const tests = filter.split(/\s+and\s+/i).map((clause): ((e: EventRecord) => boolean) => {
    const inList = /^\s*([\w.]+)\s+in\s*\(([^)]*)\)\s*$/i.exec(clause);
    if (inList) {
      const values = (inList[2] ?? '').split(',').map((v) => v.trim().replace(/^'|'$/g, ''));
      const get = field(inList[1] ?? '');
      return (e) => values.includes(get(e));
    }
    const cmp = /^\s*([\w.]+)\s*(=|!=|>=|<=|>|<)\s*'([^']*)'\s*$/.exec(clause);
    if (!cmp) throw invalid(`Unsupported event filter: ${clause}`);
    const [, name = '', op, value = ''] = cmp;
    const get = field(name);
    if (name === 'timestamp') {
      const t = Date.parse(value);
      if (Number.isNaN(t)) throw invalid(`Invalid timestamp in filter: ${value}`);
      return (e) => compare(e.timestamp, t, op);
    }
    return (e) => compare(get(e), value, op);
  });
  return (e) => tests.every((t) => t(e));
}

function field(name: string): (e: EventRecord) => string {
  switch (name) {
    case 'level':
      return (e) => e.level;
    case 'event_type':
      return (e) => e.event_type;
    case 'origin.update_id':
    case 'update_id':
      return (e) => e.update_id;
    case 'timestamp':
      return (e) => new Date(e.timestamp).toISOString();
    default:
      throw invalid(`Unsupported event filter field: ${name}`);
  }
}

function compare<T extends string | number>(a: T, b: T, op: string | undefined): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    default:
      return a <= b;
  }
}
