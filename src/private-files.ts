import { chmod, stat } from 'node:fs/promises';

/**
 * The data folder holds market data, models and the bot's delivery log, next to settings that may
 * name credentials: it is private to the user running the monitor. Folders the project creates
 * there are 0700 and files 0600, passed as explicit modes; files DuckDB creates itself (the
 * database, its WAL, temporary files) are covered by the process umask the command line sets
 * (077) and the database file is chmod-ed once opened. A folder that already exists with wider
 * modes is left as it is (it may be shared on purpose) and named in a warning.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
/** For process.umask: nothing the process creates is readable by group or others. */
export const PRIVATE_UMASK = 0o077;

/** Makes a file the project owns private (a file that does not exist is skipped). */
export async function makePrivate(path: string): Promise<void> {
  await chmod(path, PRIVATE_FILE_MODE).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** A warning sentence when a folder can be read or entered by group or others, else undefined. */
export async function openFolderWarning(path: string): Promise<string | undefined> {
  const mode = await stat(path).then(
    (s) => (s.isDirectory() ? s.mode & 0o777 : undefined),
    () => undefined,
  );
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  return (
    `the data folder ${path} is readable by other users (mode ${mode.toString(8).padStart(3, '0')}); ` +
    `it holds market data, models and the bot's delivery log: run \`chmod 700 ${path}\` to make it private`
  );
}
