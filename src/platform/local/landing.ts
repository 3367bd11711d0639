import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { landingName, toJsonLines } from '../landing-files.js';
import type { LandingBatch, LandingStore, LandingWrite } from '../port.js';

/**
 * Landing files on the local disk, laid out like the Unity Catalog volume:
 * `<root>/date=YYYY-MM-DD/hour=HH/<batch>.jsonl`, one file per ingest batch, one record per line.
 * A batch is written to a hidden temporary file, flushed to disk and renamed into place, so a
 * reader never sees a partial file. Names sort in the order batches were written.
 */
export function createLocalLanding(root: string): LandingStore & { list(): Promise<string[]> } {
  return {
    async write(batch: LandingBatch): Promise<LandingWrite> {
      const name = landingName(batch);
      const path = join(root, name);
      const dir = dirname(path);
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `.${randomUUID()}.tmp`);
      const body = toJsonLines(batch);
      const handle = await open(tmp, 'wx');
      try {
        await handle.writeFile(body, 'utf8');
        await handle.sync();
      } catch (err) {
        await handle.close();
        await rm(tmp, { force: true });
        throw err;
      }
      await handle.close();
      await rename(tmp, path);
      await syncDir(dir);
      return { file: name, records: batch.records.length, bytes: Buffer.byteLength(body) };
    },

    /** Every complete landing file, relative to the root, in the order they were written. */
    async list(): Promise<string[]> {
      let entries: string[];
      try {
        entries = await readdir(root, { recursive: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      return entries
        .map((e) => e.split(sep).join('/'))
        .filter((e) => e.endsWith('.jsonl') && !e.split('/').some((part) => part.startsWith('.')))
        .sort();
    },
  };
}

/** Makes the rename itself durable (a crash right after it must not lose the file). */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
