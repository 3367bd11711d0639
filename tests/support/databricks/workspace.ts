import type { workspace as ws } from '@databricks/sdk-experimental';
import {
  ApiError,
  type Ctx,
  doesNotExist,
  invalid,
  nextId,
  ok,
  optBool,
  optString,
  type Route,
  reqString,
  route,
} from './core.js';
import { answer, wire } from './wire.js';

/**
 * Workspace API 2.0: mkdirs, import, get-status, export, list, delete.
 *
 * Facts this follows (Databricks REST reference workspace/import, mkdirs, delete; observed answers
 * quoted in databricks/cli#3386, databrickslabs/dbx#613, gbrueckl/Databricks.API.PowerShell#88 and
 * databricks/cli#5763): import of an existing path with `overwrite` false is HTTP 400
 * RESOURCE_ALREADY_EXISTS; the parent folder must exist, else 404 RESOURCE_DOES_NOT_EXIST "The
 * parent folder (…) does not exist." (mkdirs first); mkdirs creates parents and fails with 400
 * RESOURCE_ALREADY_EXISTS when a prefix is not a folder; importing one file as SOURCE needs
 * `language`; AUTO makes a notebook (extension removed) of a file whose header marks it as one,
 * else a workspace FILE; a missing path is 404 RESOURCE_DOES_NOT_EXIST; deleting a non-empty folder
 * without `recursive` is 400 DIRECTORY_NOT_EMPTY. `/Workspace/...` is an alias of `/...`.
 *
 * Object types (https://docs.databricks.com/api/workspace/workspace/import and get-status): each
 * object records `object_type` NOTEBOOK, FILE or DIRECTORY, as get-status and list answer it.
 * SOURCE "imports the notebook as source code" (always a NOTEBOOK, `language` required for a
 * single file); AUTO imports "depending on an analysis of the item's extension and the header
 * content": a NOTEBOOK, extension removed, when the first line is the `Databricks notebook source`
 * header for the extension's language, else a workspace FILE under its own name (how the .py
 * helpers must arrive, so that Python can import them); RAW always a FILE.
 */

type ObjectType = 'NOTEBOOK' | 'DIRECTORY' | 'FILE' | 'DASHBOARD';
type Language = 'PYTHON' | 'SQL' | 'SCALA' | 'R';

interface WsObject {
  object_type: ObjectType;
  path: string;
  object_id: number;
  created_at: number;
  modified_at: number;
  language?: Language;
  content?: Buffer;
  /** A DASHBOARD's dashboard_id, which get-status answers as its resource_id (./lakeview.ts). */
  resource_id?: string;
}

const LANGUAGES: Language[] = ['PYTHON', 'SQL', 'SCALA', 'R'];
const COMMENT: Record<Language, string> = { PYTHON: '#', R: '#', SCALA: '//', SQL: '--' };
const EXTENSION: Record<Language, string> = { PYTHON: '.py', R: '.r', SCALA: '.scala', SQL: '.sql' };
const MAX_IMPORT_BYTES = 10 * 1024 * 1024;

export function createWorkspace(ctx: Ctx) {
  const objects = new Map<string, WsObject>();

  function put(path: string, o: Omit<WsObject, 'path' | 'object_id' | 'created_at' | 'modified_at'>): void {
    const now = ctx.now();
    const prior = objects.get(path);
    objects.set(path, {
      ...o,
      path,
      object_id: prior?.object_id ?? nextId(),
      created_at: prior?.created_at ?? now,
      modified_at: now,
    });
  }

  for (const dir of ['/', '/Users', '/Shared', `/Users/${ctx.userName}`])
    put(dir, { object_type: 'DIRECTORY' });

  function normalise(path: string): string {
    if (!path.startsWith('/')) throw invalid(`Path (${path}) must be absolute.`);
    let p = path.replace(/\/+$/, '') || '/';
    if (p === '/Workspace') p = '/';
    else if (p.startsWith('/Workspace/')) p = p.slice('/Workspace'.length);
    return p;
  }

  const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
  const childrenOf = (p: string) =>
    [...objects.values()].filter((o) => o.path !== '/' && o.path !== p && parentOf(o.path) === p);

  function get(path: string): WsObject {
    const o = objects.get(path);
    if (!o) throw doesNotExist(`Path (${path}) doesn't exist.`);
    return o;
  }

  function mkdirs(path: string): void {
    const parts = path.split('/').filter(Boolean);
    let current = '';
    for (const part of parts) {
      current = `${current}/${part}`;
      const o = objects.get(current);
      if (o && o.object_type !== 'DIRECTORY') {
        throw new ApiError(
          400,
          'RESOURCE_ALREADY_EXISTS',
          `${current} already exists and it is not a folder`,
        );
      }
      if (!o) put(current, { object_type: 'DIRECTORY' });
    }
  }

  function statusJson(o: WsObject): ws.ObjectInfo {
    return wire<ws.ObjectInfo>()({
      object_type: o.object_type,
      path: o.path,
      object_id: o.object_id,
      resource_id: o.resource_id ?? String(o.object_id),
      created_at: o.created_at,
      modified_at: o.modified_at,
      ...(o.language ? { language: o.language } : {}),
      ...(o.object_type !== 'DIRECTORY' ? { size: o.content?.length ?? 0 } : {}),
    });
  }

  const routes: Route[] = [
    route('POST', /^\/api\/2\.0\/workspace\/mkdirs$/, (req) => {
      mkdirs(normalise(reqString(req.json(), 'path')));
      return ok({});
    }),
    route('POST', /^\/api\/2\.0\/workspace\/import$/, (req) => {
      const body = req.json();
      let path = normalise(reqString(body, 'path'));
      const format = optString(body, 'format') ?? 'SOURCE';
      const language = optString(body, 'language');
      const overwrite = optBool(body, 'overwrite') ?? false;
      const content = Buffer.from(optString(body, 'content') ?? '', 'base64');
      if (content.length > MAX_IMPORT_BYTES) {
        throw new ApiError(400, 'MAX_NOTEBOOK_SIZE_EXCEEDED', 'File size imported is too large.');
      }
      if (language !== undefined && !LANGUAGES.includes(language as Language)) {
        throw invalid(`Invalid language: ${language}`);
      }
      let object: Omit<WsObject, 'path' | 'object_id' | 'created_at' | 'modified_at'>;
      if (format === 'SOURCE') {
        if (!language)
          throw invalid('The language field is required when importing a single file in SOURCE format.');
        object = { object_type: 'NOTEBOOK', language: language as Language, content };
      } else if (format === 'AUTO') {
        const detected = detectNotebook(path, content);
        if (detected) {
          path = path.slice(0, -EXTENSION[detected].length);
          object = { object_type: 'NOTEBOOK', language: detected, content };
        } else {
          object = { object_type: 'FILE', content };
        }
      } else if (format === 'RAW') {
        object = { object_type: 'FILE', content };
      } else if (format === 'JUPYTER') {
        object = {
          object_type: 'NOTEBOOK',
          language: (language as Language | undefined) ?? 'PYTHON',
          content,
        };
      } else {
        throw invalid(
          `Import format ${format} is not supported by this emulator (SOURCE, AUTO, RAW, JUPYTER are).`,
        );
      }
      const parent = parentOf(path);
      const folder = objects.get(parent);
      if (folder?.object_type !== 'DIRECTORY') {
        throw doesNotExist(`The parent folder (${parent}) does not exist.`);
      }
      const existing = objects.get(path);
      if (existing && (!overwrite || existing.object_type === 'DIRECTORY')) {
        throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', `Path (${path}) already exists.`);
      }
      put(path, object);
      return ok({});
    }),
    route('GET', /^\/api\/2\.0\/workspace\/get-status$/, (req) => {
      return ok(statusJson(get(normalise(reqString(req.query, 'path')))));
    }),
    route('GET', /^\/api\/2\.0\/workspace\/export$/, (req) => {
      const o = get(normalise(reqString(req.query, 'path')));
      const format = optString(req.query, 'format') ?? 'SOURCE';
      if (o.object_type === 'DIRECTORY')
        throw invalid('Exporting a folder is not supported by this emulator.');
      if (!['SOURCE', 'AUTO', 'RAW'].includes(format))
        throw invalid(`Export format ${format} is not supported.`);
      let content = o.content ?? Buffer.alloc(0);
      if (o.object_type === 'NOTEBOOK' && o.language && format === 'SOURCE') {
        const header = `${COMMENT[o.language]} Databricks notebook source`;
        if (!content.toString('utf8').startsWith(header))
          content = Buffer.concat([Buffer.from(`${header}\n`), content]);
      }
      const fileType = o.language ? EXTENSION[o.language].slice(1) : (o.path.split('.').pop() ?? '');
      if (optBool(req.query, 'direct_download')) return { status: 200, bytes: content };
      return answer<ws.ExportResponse>()({ content: content.toString('base64'), file_type: fileType });
    }),
    route('GET', /^\/api\/2\.0\/workspace\/list$/, (req) => {
      const o = get(normalise(reqString(req.query, 'path')));
      const items = o.object_type === 'DIRECTORY' ? childrenOf(o.path) : [o];
      items.sort((a, b) => a.path.localeCompare(b.path));
      return answer<ws.ListResponse>()(items.length > 0 ? { objects: items.map(statusJson) } : {});
    }),
    route('POST', /^\/api\/2\.0\/workspace\/delete$/, (req) => {
      const body = req.json();
      const o = get(normalise(reqString(body, 'path')));
      const recursive = optBool(body, 'recursive') ?? false;
      if (o.path === '/') throw invalid('The root folder cannot be deleted.');
      if (o.object_type === 'DIRECTORY') {
        const below = [...objects.keys()].filter((p) => p.startsWith(`${o.path}/`));
        if (below.length > 0 && !recursive) {
          throw new ApiError(400, 'DIRECTORY_NOT_EMPTY', `Folder (${o.path}) is not empty.`);
        }
        for (const p of below) objects.delete(p);
      }
      objects.delete(o.path);
      return ok({});
    }),
  ];

  return {
    routes,
    /** For the Lakeview area: whether a folder exists (a dashboard's parent_path must). */
    isFolder: (path: string) => objects.get(normalise(path))?.object_type === 'DIRECTORY',
    /** For the Lakeview area: the object at a path, if any (its type and resource_id). */
    objectAt(path: string): { object_type: string; resource_id?: string } | undefined {
      const o = objects.get(normalise(path));
      return o && { object_type: o.object_type, ...(o.resource_id ? { resource_id: o.resource_id } : {}) };
    },
    /** For the Lakeview area: places (or rewrites) a dashboard's DASHBOARD object, its content the serialized dashboard. */
    putDashboard(path: string, dashboardId: string, content: string): void {
      put(normalise(path), {
        object_type: 'DASHBOARD',
        resource_id: dashboardId,
        content: Buffer.from(content),
      });
    },
    /** For the Lakeview area: removes a dashboard's object (trash, or a rename's old path). */
    removeObject(path: string): void {
      objects.delete(normalise(path));
    },
    workspaceObject(path: string): { object_type: string; content?: Buffer; language?: string } | undefined {
      const o = objects.get(normalise(path));
      if (!o) return undefined;
      return {
        object_type: o.object_type,
        ...(o.content ? { content: Buffer.from(o.content) } : {}),
        ...(o.language ? { language: o.language } : {}),
      };
    },
  };
}

export type WorkspaceArea = ReturnType<typeof createWorkspace>;

/** AUTO format: a notebook when the extension and the first line say so. */
function detectNotebook(path: string, content: Buffer): Language | undefined {
  const first = content.toString('utf8').split('\n', 1)[0]?.trim() ?? '';
  for (const language of LANGUAGES) {
    if (
      path.toLowerCase().endsWith(EXTENSION[language]) &&
      first === `${COMMENT[language]} Databricks notebook source`
    ) {
      return language;
    }
  }
  return undefined;
}
