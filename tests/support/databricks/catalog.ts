import type { catalog as uc } from '@databricks/sdk-experimental';
import { ApiError, type Route, route } from './core.js';
import type { FilesArea } from './files.js';
import { answer } from './wire.js';

/**
 * Unity Catalog schemas and volumes (REST 2.1): `GET /api/2.1/unity-catalog/schemas/{full_name}`,
 * `POST /api/2.1/unity-catalog/schemas {catalog_name, name}`, and the same for volumes
 * (`{catalog_name, schema_name, name, volume_type}`). The catalogs that exist are declared by the
 * test (default `workspace`, as on Free Edition). A created volume can take files (files.ts).
 *
 * Facts this follows (Unity Catalog reference, schemas/volumes): a missing schema or volume is 404
 * (SCHEMA_DOES_NOT_EXIST / RESOURCE_DOES_NOT_EXIST family; the product only reads the status), an
 * existing one on create is 409 RESOURCE_ALREADY_EXISTS; a volume needs its schema.
 */
export function createCatalog(files: FilesArea, catalogs: string[] = ['workspace']) {
  const schemas = new Set<string>();
  const volumes = new Set<string>();
  const now = () => Date.now();

  const body = (req: { json(): Record<string, unknown> }) => req.json();
  const text = (v: unknown) => (typeof v === 'string' ? v : '');

  const routes: Route[] = [
    route('GET', /^\/api\/2\.1\/unity-catalog\/schemas\/([^/]+)$/, (_req, [name = '']) => {
      const full = decodeURIComponent(name);
      if (!schemas.has(full))
        throw new ApiError(404, 'SCHEMA_DOES_NOT_EXIST', `Schema '${full}' does not exist.`);
      const [catalog, schema] = full.split('.');
      return answer<uc.SchemaInfo>()({
        full_name: full,
        catalog_name: catalog,
        name: schema,
        created_at: now(),
      });
    }),
    route('POST', /^\/api\/2\.1\/unity-catalog\/schemas$/, (req) => {
      const b = body(req);
      const full = `${text(b.catalog_name)}.${text(b.name)}`;
      if (!catalogs.includes(text(b.catalog_name))) {
        throw new ApiError(
          404,
          'CATALOG_DOES_NOT_EXIST',
          `Catalog '${text(b.catalog_name)}' does not exist.`,
        );
      }
      if (schemas.has(full))
        throw new ApiError(409, 'SCHEMA_ALREADY_EXISTS', `Schema '${full}' already exists`);
      schemas.add(full);
      return answer<uc.SchemaInfo>()({
        full_name: full,
        catalog_name: text(b.catalog_name),
        name: text(b.name),
        created_at: now(),
      });
    }),
    route('GET', /^\/api\/2\.1\/unity-catalog\/volumes\/([^/]+)$/, (_req, [name = '']) => {
      const full = decodeURIComponent(name);
      if (!volumes.has(full))
        throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Volume '${full}' does not exist.`);
      const [catalog, schema, volume] = full.split('.');
      return answer<uc.VolumeInfo>()({
        full_name: full,
        catalog_name: catalog,
        schema_name: schema,
        name: volume,
        volume_type: 'MANAGED',
      });
    }),
    route('POST', /^\/api\/2\.1\/unity-catalog\/volumes$/, (req) => {
      const b = body(req);
      const schema = `${text(b.catalog_name)}.${text(b.schema_name)}`;
      const full = `${schema}.${text(b.name)}`;
      if (!schemas.has(schema))
        throw new ApiError(404, 'SCHEMA_DOES_NOT_EXIST', `Schema '${schema}' does not exist.`);
      if (volumes.has(full))
        throw new ApiError(409, 'RESOURCE_ALREADY_EXISTS', `Volume '${full}' already exists`);
      volumes.add(full);
      files.createVolume(text(b.catalog_name), text(b.schema_name), text(b.name));
      return answer<uc.VolumeInfo>()({
        full_name: full,
        catalog_name: text(b.catalog_name),
        schema_name: text(b.schema_name),
        name: text(b.name),
        ...(typeof b.volume_type === 'string' ? { volume_type: b.volume_type as uc.VolumeType } : {}),
      });
    }),
  ];

  return {
    routes,
    /** A schema and volume that already exist (as after a first provisioning). */
    createVolume(catalog: string, schema: string, volume: string): void {
      schemas.add(`${catalog}.${schema}`);
      volumes.add(`${catalog}.${schema}.${volume}`);
      files.createVolume(catalog, schema, volume);
    },
  };
}
