import { ExitCode, UserError } from './errors.js';

/**
 * File-system failures as sentences: the path, what is wrong with it, and what to do. They come
 * from two sides: Node's fs calls (an errno `code` and a `path`) and DuckDB, which reports its own
 * I/O failures as text ('IO Error: Could not write file "…": No space left on device').
 *
 * Exit codes: a path that is the wrong kind of thing (a folder where a file belongs, or the other
 * way round) is a setting to fix, found before anything is written: 2 (Usage). A full disk, a
 * permission problem or a read-only file system is the environment failing the command: 1.
 */

type Kind = 'ENOSPC' | 'EACCES' | 'EROFS' | 'EISDIR' | 'ENOTDIR' | 'EEXIST_DIR';

/** The strerror texts DuckDB (and other native code) puts in its messages. */
const DUCKDB_TEXTS: Array<[RegExp, Kind]> = [
  [/No space left on device/i, 'ENOSPC'],
  [/Permission denied|Operation not permitted/i, 'EACCES'],
  [/Read-only file system/i, 'EROFS'],
  [/Is a directory/i, 'EISDIR'],
  [/Not a directory/i, 'ENOTDIR'],
];

const WHERE = 'DATA_DIR (or --db / DUCKDB_PATH for the database file)';

/** The sentence for a file-system failure, or undefined when `err` is not one (causes included). */
export function describeIoError(err: unknown): UserError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const found = ioFailure(e);
    if (found) return sentence(found.kind, found.path, err);
  }
  return undefined;
}

function ioFailure(e: unknown): { kind: Kind; path: string | undefined } | undefined {
  if (!(e instanceof Error) && typeof (e as { message?: unknown })?.message !== 'string') return undefined;
  const { code, path, syscall, message } = e as NodeJS.ErrnoException;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return { kind: 'ENOSPC', path };
    case 'EACCES':
    case 'EPERM':
      return { kind: 'EACCES', path };
    case 'EROFS':
      return { kind: 'EROFS', path };
    case 'EISDIR':
      return { kind: 'EISDIR', path };
    case 'ENOTDIR':
      return { kind: 'ENOTDIR', path };
    case 'EEXIST':
      // mkdir -p of a path that exists as a file.
      return syscall === 'mkdir' ? { kind: 'EEXIST_DIR', path } : undefined;
  }
  if (!/IO Error/i.test(message)) return undefined;
  const duckPath = /file "([^"]*)"/.exec(message)?.[1];
  for (const [pattern, kind] of DUCKDB_TEXTS) if (pattern.test(message)) return { kind, path: duckPath };
  return undefined;
}

function sentence(kind: Kind, path: string | undefined, cause: unknown): UserError {
  const what = path ?? 'a file in the data folder';
  switch (kind) {
    case 'ENOSPC':
      return new UserError(
        `No space left on the device holding ${what}: free some space there, or point ${WHERE} at another disk, then run the command again.`,
        { exitCode: ExitCode.Failure, cause },
      );
    case 'EACCES':
      return new UserError(
        `Permission denied on ${what}: give the user running crypto-risk read and write access to it, or point ${WHERE} at a folder that user owns.`,
        { exitCode: ExitCode.Failure, cause },
      );
    case 'EROFS':
      return new UserError(`${what} is on a read-only file system: point ${WHERE} at a writable place.`, {
        exitCode: ExitCode.Failure,
        cause,
      });
    case 'EISDIR':
      return new UserError(
        `${what} is a folder where a file belongs: point ${WHERE} at a file path, or move that folder away.`,
        { exitCode: ExitCode.Usage, cause },
      );
    case 'ENOTDIR':
    case 'EEXIST_DIR':
      return new UserError(
        `${what} ${kind === 'ENOTDIR' ? 'has a file where a folder belongs in its path' : 'is a file where a folder belongs'}: point ${WHERE} at a folder, or move that file away.`,
        { exitCode: ExitCode.Usage, cause },
      );
  }
}
