import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { PRIVATE_DIR_MODE } from '../../private-files.js';
import { landingName, toJsonLines } from '../landing-files.js';
import type { LandingBatch, LandingStore, LandingWrite } from '../port.js';
import { writeFileDurably } from './durable-files.js';
import { entriesUnder } from './file-tree.js';
import { QUARANTINE_DIR } from './quarantine.js';

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
      await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      const body = toJsonLines(batch);
      await writeFileDurably(path, body);
      return { file: name, records: batch.records.length, bytes: Buffer.byteLength(body) };
    },

    /**
     * Every complete landing file, relative to the root, in the order they were written. Only files
     * (and symbolic links, which the pipeline then reads or isolates): a directory named like a
     * landing file is no file; hidden entries (temporary files) and the quarantine are left out.
     */
    async list(): Promise<string[]> {
      return (await entriesUnder(root))
        .filter((e) => e.isFile() || e.isSymbolicLink())
        .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
        .filter(
          (e) =>
            e.endsWith('.jsonl') &&
            !e.startsWith(`${QUARANTINE_DIR}/`) &&
            !e.split('/').some((part) => part.startsWith('.')),
        )
        .sort();
    },
  };
}
