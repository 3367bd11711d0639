import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';

/** Every entry under `root`, recursively (files, links and folders); none when `root` does not exist yet. */
export async function entriesUnder(root: string): Promise<Dirent[]> {
  try {
    return await readdir(root, { recursive: true, withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
