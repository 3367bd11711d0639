import type { IncomingMessage } from 'node:http';

/**
 * Reading Web API arguments the ways Slack accepts them: a query string, a form-urlencoded body
 * (what @slack/web-api sends: nested arguments such as `blocks`, `metadata`, `view` and `files`
 * arrive JSON-encoded as strings), a JSON body, or multipart/form-data. The token comes from
 * `Authorization: Bearer` or a `token` argument.
 */
export type Args = Record<string, unknown>;

/** Arguments whose string form is JSON. */
const JSON_ARGS = new Set(['blocks', 'attachments', 'metadata', 'view', 'files', 'user_auth_blocks']);

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Parses a multipart/form-data body with the platform's own parser (undici). */
export async function parseMultipart(body: Buffer, contentType: string): Promise<FormData> {
  return new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
}

/** The arguments of a Web API call, JSON-encoded ones decoded (left as strings when not JSON). */
export async function parseArgs(
  query: URLSearchParams,
  body: Buffer,
  contentType: string | undefined,
): Promise<Args> {
  const raw: Args = Object.fromEntries(query);
  const type = mediaType(contentType);
  if (body.length > 0) {
    if (type === 'application/json') {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) Object.assign(raw, parsed);
    } else if (type === 'multipart/form-data' && contentType) {
      const form = await parseMultipart(body, contentType);
      for (const [key, value] of form) raw[key] = typeof value === 'string' ? value : value.name;
    } else {
      Object.assign(raw, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    }
  }
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (JSON_ARGS.has(key) && typeof value === 'string') {
      try {
        raw[key] = JSON.parse(value);
      } catch {
        // left as a string: the method answers with its *_format error
      }
    }
  }
  return raw;
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

/** The arguments as recorded: without the token. */
export function withoutToken(args: Args): Args {
  const { token: _token, ...rest } = args;
  return rest;
}

export function str(args: Args, key: string): string | undefined {
  const value = args[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

export function bool(args: Args, key: string): boolean {
  const value = args[key];
  return value === true || value === 1 || value === 'true' || value === '1';
}

/** An integer argument; undefined when absent, NaN when not a number. */
export function int(args: Args, key: string): number | undefined {
  const value = args[key];
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isInteger(n) ? n : Number.NaN;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
