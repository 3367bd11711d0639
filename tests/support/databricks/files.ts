import type { files as fs } from '@databricks/sdk-experimental';
import {
  ApiError,
  type ApiReply,
  type Ctx,
  optBool,
  optInt,
  optString,
  pageOffset,
  paginate,
  type Route,
  route,
} from './core.js';
import { answer } from './wire.js';

/**
 * Files API 2.0 for Unity Catalog volumes: `/api/2.0/fs/files/Volumes/<c>/<s>/<v>/<path>` (PUT raw
 * bytes, GET, HEAD, DELETE) and `/api/2.0/fs/directories/...` (PUT, GET list, HEAD, DELETE).
 *
 * Facts this follows (Databricks REST reference files/v2): upload is the raw body, no answer body
 * (204 here); `overwrite` true or unspecified replaces, false fails when the file exists;
 * directory create is `mkdir -p` and idempotent; listing answers `{contents: [{path, is_directory,
 * file_size, last_modified, name}], next_page_token}` with `page_size` at most 1000; a missing
 * directory or file is 404. Upload creates missing parent directories (the Databricks CLI before
 * 0.214 relied on it, databricks/cli#1408). The volume itself must exist: volumes are declared by
 * the test with createVolume().
 */

interface FileEntry {
  data: Buffer;
  modified: number;
}

export function createFiles(ctx: Ctx) {
  const volumes = new Set<string>();
  const files = new Map<string, FileEntry>();
  const dirs = new Map<string, number>();

  const notFound = (message: string) => new ApiError(404, 'NOT_FOUND', message);

  /** '/Volumes/c/s/v/a/b' → normalised path, after checking the volume exists. */
  function resolve(encoded: string): string {
    let path: string;
    try {
      path = decodeURIComponent(encoded);
    } catch {
      throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Invalid path: ${encoded}`);
    }
    path = path.replace(/\/+$/, '');
    const parts = path.split('/');
    if (
      parts[1] !== 'Volumes' ||
      parts.length < 5 ||
      parts.slice(2).some((p) => p === '' || p === '.' || p === '..')
    ) {
      throw new ApiError(
        400,
        'INVALID_PARAMETER_VALUE',
        `Invalid path ${path}: expected /Volumes/<catalog>/<schema>/<volume>/...`,
      );
    }
    const volume = parts.slice(0, 5).join('/');
    if (!volumes.has(volume)) throw notFound(`Volume ${parts.slice(2, 5).join('.')} does not exist.`);
    return path;
  }

  const volumeRoot = (path: string) => path.split('/').slice(0, 5).join('/');
  const isDir = (path: string) => path === volumeRoot(path) || dirs.has(path);

  function mkdirp(path: string): void {
    const root = volumeRoot(path);
    const rest = path.slice(root.length).split('/').filter(Boolean);
    let current = root;
    for (const part of rest) {
      current = `${current}/${part}`;
      if (files.has(current)) throw new ApiError(409, 'ALREADY_EXISTS', `A file exists at ${current}.`);
      if (!dirs.has(current)) dirs.set(current, ctx.now());
    }
  }

  function fileHeaders(f: FileEntry): Record<string, string> {
    return {
      'content-type': 'application/octet-stream',
      'content-length': String(f.data.length),
      'last-modified': new Date(f.modified).toUTCString(),
    };
  }

  const empty = (status: number, headers: Record<string, string> = {}): ApiReply => ({ status, headers });

  const routes: Route[] = [
    route('PUT', /^\/api\/2\.0\/fs\/files(\/.+)$/, (req, [p = '']) => {
      const path = resolve(p);
      const overwrite = optBool(req.query, 'overwrite') ?? true;
      if (isDir(path)) throw new ApiError(409, 'ALREADY_EXISTS', `A directory exists at ${path}.`);
      if (files.has(path) && !overwrite)
        throw new ApiError(409, 'ALREADY_EXISTS', `The file ${path} already exists.`);
      mkdirp(path.slice(0, path.lastIndexOf('/')));
      files.set(path, { data: Buffer.from(req.body), modified: ctx.now() });
      return empty(204);
    }),
    route('GET', /^\/api\/2\.0\/fs\/files(\/.+)$/, (_req, [p = '']) => {
      const f = files.get(resolve(p));
      if (!f) throw notFound('The file being accessed is not found.');
      return { status: 200, bytes: f.data, headers: fileHeaders(f) };
    }),
    route('HEAD', /^\/api\/2\.0\/fs\/files(\/.+)$/, (_req, [p = '']) => {
      const f = files.get(resolve(p));
      if (!f) throw notFound('The file being accessed is not found.');
      return empty(200, fileHeaders(f));
    }),
    route('DELETE', /^\/api\/2\.0\/fs\/files(\/.+)$/, (_req, [p = '']) => {
      const path = resolve(p);
      if (!files.delete(path)) throw notFound('The file being accessed is not found.');
      return empty(204);
    }),
    route('PUT', /^\/api\/2\.0\/fs\/directories(\/.+)$/, (_req, [p = '']) => {
      mkdirp(resolve(p));
      return empty(204);
    }),
    route('HEAD', /^\/api\/2\.0\/fs\/directories(\/.+)$/, (_req, [p = '']) => {
      if (!isDir(resolve(p))) throw notFound('The directory being accessed is not found.');
      return empty(200);
    }),
    route('DELETE', /^\/api\/2\.0\/fs\/directories(\/.+)$/, (_req, [p = '']) => {
      const path = resolve(p);
      if (!isDir(path) || path === volumeRoot(path))
        throw notFound('The directory being accessed is not found.');
      const prefix = `${path}/`;
      if ([...files.keys(), ...dirs.keys()].some((k) => k.startsWith(prefix))) {
        throw new ApiError(400, 'FAILED_PRECONDITION', `The directory ${path} is not empty.`);
      }
      dirs.delete(path);
      return empty(204);
    }),
    route('GET', /^\/api\/2\.0\/fs\/directories(\/.+)$/, (req, [p = '']) => {
      const path = resolve(p);
      if (!isDir(path)) throw notFound('The directory being accessed is not found.');
      const prefix = `${path}/`;
      const direct = (k: string) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/');
      const entries = [
        ...[...dirs.entries()]
          .filter(([k]) => direct(k))
          .map(([k, modified]) => ({
            path: k,
            is_directory: true,
            last_modified: modified,
            name: k.slice(prefix.length),
          })),
        ...[...files.entries()]
          .filter(([k]) => direct(k))
          .map(([k, f]) => ({
            path: k,
            is_directory: false,
            file_size: f.data.length,
            last_modified: f.modified,
            name: k.slice(prefix.length),
          })),
      ].sort((a, b) => a.name.localeCompare(b.name));
      const size = Math.min(optInt(req.query, 'page_size') ?? 1000, 1000);
      const { page, next } = paginate(
        entries,
        pageOffset(optString(req.query, 'page_token')),
        Math.max(1, size),
      );
      return answer<fs.ListDirectoryResponse>()({
        ...(page.length > 0 ? { contents: page } : {}),
        ...(next ? { next_page_token: next } : {}),
      });
    }),
  ];

  return {
    routes,
    createVolume(catalog: string, schema: string, volume: string): void {
      volumes.add(`/Volumes/${catalog}/${schema}/${volume}`);
    },
    /** Writes a file as a job's notebook does through the volume's FUSE mount (the volume must exist). */
    writeVolumeFile(path: string, data: Buffer): void {
      const resolved = resolve(encodeURI(path));
      mkdirp(resolved.slice(0, resolved.lastIndexOf('/')));
      files.set(resolved, { data: Buffer.from(data), modified: ctx.now() });
    },
    volumeFile(path: string): Buffer | undefined {
      const f = files.get(path.replace(/\/+$/, ''));
      return f ? Buffer.from(f.data) : undefined;
    },
  };
}

export type FilesArea = ReturnType<typeof createFiles>;
