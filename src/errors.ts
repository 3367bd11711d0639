/**
 * An error whose message is a sentence for the user: what happened and what to do. Anything else
 * that escapes a command is a bug and is reported as such (with its stack in the debug log).
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options.exitCode ?? ExitCode.Failure;
  }
}

/** Process exit codes of the command line (also listed in the README). */
export const ExitCode = {
  Ok: 0,
  /** The command ran and failed (an upstream API, a job, a full disk, a permission denied). */
  Failure: 1,
  /**
   * Bad input: arguments, settings (a path that is a file where a folder belongs, or the other way
   * round), a query that is not read-only. Nothing was changed.
   */
  Usage: 2,
  /** The database file is held by another process. Nothing was changed. */
  Busy: 3,
} as const;
