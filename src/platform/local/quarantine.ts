import { lstat, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix } from 'node:path';
import type { Clock } from '../../clock.js';
import { ExitCode, UserError } from '../../errors.js';
import { PRIVATE_DIR_MODE } from '../../private-files.js';
import type { FailingFile, QuarantinedFile } from '../port.js';
import type { Db } from './db.js';
import { syncDir, writeFileDurably } from './durable-files.js';
import { entriesUnder } from './file-tree.js';

/** The folder under the landing root where files that keep failing are moved. */
export const QUARANTINE_DIR = '_quarantine';
const REASON_SUFFIX = '.reason.json';

export interface LocalQuarantine {
  /**
   * Records one failed run of a file (committed on its own, outside the failed transaction) and
   * returns how many runs have failed on it so far.
   */
  recordFailure(file: string, error: string): Promise<FailingFile>;
  /** Moves a file that failed `maxAttempts` runs into the quarantine, its reason written first. */
  quarantine(failure: FailingFile): Promise<QuarantinedFile>;
  /** Forgets the failure record of a file that went through after all. */
  clear(file: string): Promise<void>;
  /** Files that failed at least one run and are still in landing (retried on the next runs). */
  failing(landed: readonly string[]): Promise<FailingFile[]>;
  /** Files in the quarantine, newest first. */
  list(): Promise<QuarantinedFile[]>;
  /** Moves a quarantined file back to its place and clears its record; the next run tries it again. */
  retry(file: string): Promise<QuarantinedFile>;
  readonly maxAttempts: number;
}

/**
 * Landing files that cannot be processed (unreadable, or breaking the engine) are isolated rather
 * than blocking every run: each failed run is counted in `landing_failures`, and after
 * `maxAttempts` runs the file moves to `<landing>/_quarantine/<its relative path>` with
 * `<name>.reason.json` beside it. Crash-safe in every order of events: the reason file is written
 * first (a temporary file renamed into place), the data file is moved with one rename, and a
 * reason file without its data file is ignored; the data file is never copied, so it is never
 * lost or doubled.
 */
export function createLocalQuarantine(deps: {
  db: Db;
  landingRoot: string;
  clock: Clock;
  maxAttempts: number;
}): LocalQuarantine {
  const { db, landingRoot, clock } = deps;
  const root = join(landingRoot, QUARANTINE_DIR);

  return {
    maxAttempts: deps.maxAttempts,

    async recordFailure(file, error) {
      const at = clock.now().toISOString();
      const [row] = await db.all<FailingFile>(
        `INSERT INTO landing_failures VALUES (:file, 1, :error, CAST(:at AS TIMESTAMP), CAST(:at AS TIMESTAMP))
         ON CONFLICT (file) DO UPDATE SET attempts = attempts + 1, last_error = excluded.last_error,
           last_failed_at = excluded.last_failed_at
         RETURNING ${FAILURE_COLUMNS}`,
        { file, error: error.slice(0, 2000), at },
      );
      return row as FailingFile;
    },

    async quarantine(failure) {
      const target = join(root, failure.file);
      await mkdir(dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
      const entry: QuarantinedFile = {
        file: failure.file,
        reason: failure.last_error,
        attempts: failure.attempts,
        first_failed_at: failure.first_failed_at,
        last_failed_at: failure.last_failed_at,
        quarantined_at: clock.now().toISOString(),
      };
      await writeFileDurably(`${target}${REASON_SUFFIX}`, `${JSON.stringify(entry, null, 2)}\n`);
      await rename(join(landingRoot, failure.file), target);
      await syncDir(dirname(target));
      await syncDir(dirname(join(landingRoot, failure.file)));
      // The reason file holds the record from here on (a crash before this leaves a row for a
      // file no longer in landing, which `failing` does not count).
      await db.run('DELETE FROM landing_failures WHERE file = :file', { file: failure.file });
      return entry;
    },

    async clear(file) {
      await db.run('DELETE FROM landing_failures WHERE file = :file', { file });
    },

    async failing(landed) {
      if (landed.length === 0) return [];
      return db.all<FailingFile>(
        `SELECT ${FAILURE_COLUMNS} FROM landing_failures
         WHERE file IN (SELECT unnest(CAST(:files AS VARCHAR[]))) ORDER BY last_failed_at DESC, file`,
        { files: landed },
      );
    },

    async list() {
      const out: QuarantinedFile[] = [];
      for (const file of await dataFiles(root)) {
        out.push(await describe(root, file));
      }
      return out.sort(
        (a, b) =>
          (b.quarantined_at ?? '').localeCompare(a.quarantined_at ?? '') || a.file.localeCompare(b.file),
      );
    },

    async retry(file) {
      const name = quarantinedName(file);
      const source = join(root, name);
      if (!(await isFile(source))) {
        throw new UserError(
          `${name} is not in the quarantine (see \`crypto-risk quarantine list\`). Nothing was changed.`,
          { exitCode: ExitCode.Usage },
        );
      }
      const back = join(landingRoot, name);
      if (await exists(back)) {
        throw new UserError(
          `${name} cannot go back: a landing entry of that name exists again. Nothing was changed.`,
          { exitCode: ExitCode.Usage },
        );
      }
      const entry = await describe(root, name);
      // The record goes first: a crash after it leaves the file in the quarantine, to retry again.
      await db.run('DELETE FROM landing_failures WHERE file = :file', { file: name });
      await mkdir(dirname(back), { recursive: true, mode: PRIVATE_DIR_MODE });
      await rename(source, back);
      await syncDir(dirname(back));
      await rm(`${source}${REASON_SUFFIX}`, { force: true });
      return entry;
    },
  };
}

const FAILURE_COLUMNS = 'file, attempts, last_error, first_failed_at, last_failed_at';

/**
 * A quarantined file's name as given by an operator: relative to the quarantine folder (an
 * optional leading `_quarantine/` is accepted), never absolute and never leaving the folder.
 */
export function quarantinedName(given: string): string {
  const slashed = given.replaceAll('\\', '/');
  if (given.trim() === '' || isAbsolute(given) || slashed.startsWith('/')) {
    throw new UserError(
      `Give the file's path inside the quarantine (as \`crypto-risk quarantine list\` shows it), not "${given}". Nothing was changed.`,
      { exitCode: ExitCode.Usage },
    );
  }
  const name = posix.normalize(slashed).replace(new RegExp(`^${QUARANTINE_DIR}/`), '');
  if (name === '.' || name === '..' || name.startsWith('../') || slashed.split('/').includes('..')) {
    throw new UserError(`"${given}" points outside the quarantine folder. Nothing was changed.`, {
      exitCode: ExitCode.Usage,
    });
  }
  if (name.endsWith(REASON_SUFFIX)) {
    throw new UserError(`"${given}" is a reason file; give the data file beside it. Nothing was changed.`, {
      exitCode: ExitCode.Usage,
    });
  }
  return name;
}

/** The data files in the quarantine (relative, `/`-separated), without their reason files. */
async function dataFiles(root: string): Promise<string[]> {
  return (await entriesUnder(root))
    .filter((e) => !e.isDirectory() && !e.name.endsWith(REASON_SUFFIX) && !e.name.startsWith('.'))
    .map((e) => posix.join(...relativeParts(root, join(e.parentPath, e.name))))
    .sort();
}

function relativeParts(root: string, path: string): string[] {
  return path.slice(root.length + 1).split(/[\\/]/);
}

/** A quarantined file with its reason; a missing or unreadable reason file is said so. */
async function describe(root: string, file: string): Promise<QuarantinedFile> {
  try {
    const reason = JSON.parse(
      await readFile(join(root, `${file}${REASON_SUFFIX}`), 'utf8'),
    ) as QuarantinedFile;
    return { ...reason, file };
  } catch {
    return {
      file,
      reason: 'no reason recorded (the reason file is missing or unreadable)',
      attempts: 0,
      first_failed_at: null,
      last_failed_at: null,
      quarantined_at: null,
    };
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    const s = await stat(path);
    return !s.isDirectory();
  } catch {
    // A dangling symlink in the quarantine is still an entry to move back.
    return exists(path);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
