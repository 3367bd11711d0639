import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../../private-files.js';
import type { Workspace, WorkspaceSnapshot } from '../workspace.js';

/**
 * Keeps the console's workspace on disk so that a restart shows the same channel history (and the
 * bot's feed, which updates its own earlier messages, finds them again): `workspace.json` holds the
 * messages, ephemeral messages, Home views and file descriptions; `files/<id>` the bytes of each
 * file. Saves follow changes at most every `delayMs`, one at a time, bytes before the JSON that
 * names them, each file written to a temporary name first and renamed, so a crash leaves the last
 * complete state. The workspace bounds its history (its `historyLimit`); the bytes of the files it
 * pruned are removed after the JSON that no longer names them is written.
 */
export interface WorkspaceStore {
  /** Saves what is not saved yet (on shutdown). */
  flush(): Promise<void>;
  /** Stops following changes after a last save. */
  close(): Promise<void>;
}

/** The saved workspace cannot be read back. */
export class WorkspaceStoreError extends Error {
  override readonly name = 'WorkspaceStoreError';
}

const SNAPSHOT = 'workspace.json';
const FILES = 'files';

export async function openWorkspaceStore(
  ws: Workspace,
  dir: string,
  options: { delayMs?: number; onError?: (err: unknown) => void } = {},
): Promise<WorkspaceStore> {
  const delayMs = options.delayMs ?? 250;
  await mkdir(join(dir, FILES), { recursive: true, mode: PRIVATE_DIR_MODE });
  const written = new Set<string>();
  const snapshotPath = join(dir, SNAPSHOT);
  let prunedOnRestore = 0;
  if (existsSync(snapshotPath)) {
    let snapshot: WorkspaceSnapshot;
    try {
      snapshot = JSON.parse(readFileSync(snapshotPath, 'utf8')) as WorkspaceSnapshot;
    } catch (err) {
      throw new WorkspaceStoreError(`${snapshotPath} is not readable JSON (${String(err)})`);
    }
    if (snapshot?.version !== 1) {
      throw new WorkspaceStoreError(
        `${snapshotPath} has an unknown format (version ${String(snapshot?.version)})`,
      );
    }
    prunedOnRestore = ws.restore(snapshot, (file) => {
      const path = join(dir, FILES, file.id);
      if (!existsSync(path)) return undefined;
      written.add(file.id);
      return readFileSync(path);
    });
  }

  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  let saving: Promise<void> = Promise.resolve();

  async function atomicWrite(path: string, data: string | Buffer): Promise<void> {
    const tmp = `${path}.tmp`;
    await writeFile(tmp, data, { mode: PRIVATE_FILE_MODE });
    await rename(tmp, path);
  }

  async function save(): Promise<void> {
    dirty = false;
    const snapshot = ws.snapshot();
    for (const file of snapshot.files) {
      if (written.has(file.id)) continue;
      const found = ws.fileBytes(file.id);
      if (!found) continue;
      await atomicWrite(join(dir, FILES, file.id), found.bytes);
      written.add(file.id);
    }
    await atomicWrite(snapshotPath, JSON.stringify(snapshot));
    const kept = new Set(snapshot.files.map((f) => f.id));
    for (const id of [...written]) {
      if (kept.has(id)) continue;
      await rm(join(dir, FILES, id), { force: true });
      written.delete(id);
    }
  }

  function queueSave(): Promise<void> {
    saving = saving.then(save).catch((err: unknown) => options.onError?.(err));
    return saving;
  }

  function scheduleSave(): void {
    dirty = true;
    timer ??= setTimeout(() => {
      timer = undefined;
      void queueSave();
    }, delayMs);
  }

  const stop = ws.onChange(scheduleSave);
  // A history saved under a larger bound was pruned on restore: the next save writes it shorter.
  if (prunedOnRestore > 0) scheduleSave();

  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (dirty) await queueSave();
    else await saving;
  }

  return {
    flush,
    async close() {
      stop();
      await flush();
    },
  };
}
