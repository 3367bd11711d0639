import { randomUUID } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PRIVATE_FILE_MODE } from '../../private-files.js';

/**
 * Writes a file whole or not at all, private (0600): a hidden temporary file beside it, flushed to
 * disk, renamed into place, and the rename made durable. A reader never sees a partial file.
 */
export async function writeFileDurably(path: string, body: string): Promise<void> {
  const tmp = join(dirname(path), `.${randomUUID()}.tmp`);
  const handle = await open(tmp, 'wx', PRIVATE_FILE_MODE);
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
  await syncDir(dirname(path));
}

/** Makes a rename in `dir` durable (a crash right after it must not lose the file). */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
