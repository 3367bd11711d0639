import type { IncomingHttpHeaders } from 'node:http';

/**
 * Building blocks shared by the areas of the loopback Databricks emulator: the request and reply
 * shapes, Databricks' error object, argument parsing, page tokens and tracked timers.
 */

export type JsonObject = Record<string, unknown>;

export interface ApiRequest {
  method: string;
  /** Path without the query string, e.g. /api/2.2/jobs/get */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body as a JSON object ({} when empty); a body that is not a JSON object is a 400 MALFORMED_REQUEST. */
  json(): JsonObject;
}

export interface ApiReply {
  status: number;
  /** Serialised as application/json. */
  json?: unknown;
  /** Sent as application/octet-stream (Files API downloads). */
  bytes?: Buffer;
  headers?: Record<string, string>;
}

export type Handler = (req: ApiRequest, params: string[]) => ApiReply | Promise<ApiReply>;

export interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
  /** Reachable without a bearer token (the OIDC endpoints). */
  public?: boolean;
}

export function route(
  method: string,
  pattern: RegExp,
  handler: Handler,
  options: { public?: boolean } = {},
): Route {
  return { method, pattern, handler, public: options.public ?? false };
}

/**
 * An error in Databricks' shape `{ error_code, message }`. The HTTP status is separate from the code:
 * e.g. the Workspace API answers RESOURCE_ALREADY_EXISTS with 400, and the auth layer puts the HTTP
 * status itself (a number) into `error_code`.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string | number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  reply(): ApiReply {
    return {
      status: this.status,
      json: { error_code: this.errorCode, message: this.message },
      headers: this.headers,
    };
  }
}

export const invalid = (message: string): ApiError => new ApiError(400, 'INVALID_PARAMETER_VALUE', message);
export const doesNotExist = (message: string): ApiError =>
  new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', message);

export function ok(json: unknown = {}): ApiReply {
  return { status: 200, json };
}

/** Context each area gets from the emulator. */
export interface Ctx {
  /** Workspace URL, e.g. http://127.0.0.1:PORT */
  url(): string;
  userName: string;
  timers: Timers;
  /** The workspace's clock (epoch ms) for the instants it reports: run times, file and model times. */
  now(): number;
}

/** setTimeout with bookkeeping, so close() can stop every pending state change. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private stopped = false;

  after(ms: number, fn: () => void): NodeJS.Timeout | undefined {
    if (this.stopped) return undefined;
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      fn();
    }, ms);
    this.pending.add(timer);
    return timer;
  }

  cancel(timer: NodeJS.Timeout | undefined): void {
    if (!timer) return;
    clearTimeout(timer);
    this.pending.delete(timer);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}

// ---------------------------------------------------------------------------------------------------
// Arguments. JSON bodies and query strings both arrive here; proto3 JSON also allows int64 as strings.

type Source = JsonObject | URLSearchParams;

function raw(src: Source, key: string): unknown {
  return src instanceof URLSearchParams ? (src.get(key) ?? undefined) : src[key];
}

export function optString(src: Source, key: string): string | undefined {
  const v = raw(src, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`Invalid value for field '${key}': expected a string.`);
  return v;
}

export function reqString(src: Source, key: string): string {
  const v = optString(src, key);
  if (v === undefined || v === '') throw invalid(`Missing required field: ${key}`);
  return v;
}

export function optInt(src: Source, key: string): number | undefined {
  const v = raw(src, key);
  if (v === undefined || v === null || v === '') return undefined;
  const n =
    typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw invalid(`Invalid value '${String(v)}' for field '${key}': expected an integer.`);
  return n;
}

export function reqInt(src: Source, key: string): number {
  const v = optInt(src, key);
  if (v === undefined) throw invalid(`Missing required field: ${key}`);
  return v;
}

export function optBool(src: Source, key: string): boolean | undefined {
  const v = raw(src, key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid(`Invalid value '${String(v)}' for field '${key}': expected a boolean.`);
}

export function optObject(src: JsonObject, key: string): JsonObject | undefined {
  const v = src[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalid(`Invalid value for field '${key}': expected an object.`);
  return v;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep copy through JSON, so state handed out or stored is never shared with callers. */
export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

// ---------------------------------------------------------------------------------------------------
// Page tokens: opaque to clients, an offset inside.

export function pageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset }), 'utf8').toString('base64url');
}

export function pageOffset(token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (isObject(parsed) && Number.isSafeInteger(parsed.o) && (parsed.o as number) >= 0)
      return parsed.o as number;
  } catch {
    // fall through
  }
  throw invalid(`Invalid page token: ${token}`);
}

/** One page of `items` and the pagination fields Databricks uses. */
export function paginate<T>(
  items: T[],
  offset: number,
  limit: number,
): { page: T[]; hasMore: boolean; next?: string; prev?: string } {
  const page = items.slice(offset, offset + limit);
  const hasMore = offset + limit < items.length;
  return {
    page,
    hasMore,
    ...(hasMore ? { next: pageToken(offset + limit) } : {}),
    ...(offset > 0 ? { prev: pageToken(Math.max(0, offset - limit)) } : {}),
  };
}

const ID_BASE = 1_000_000_000_000 + (Date.now() % 1_000_000) * 1000;
let counter = 0;
/** Large, increasing ids like Databricks' (well below 2^53, so they stay exact in JSON). */
export function nextId(): number {
  counter += 1;
  return ID_BASE + counter;
}
