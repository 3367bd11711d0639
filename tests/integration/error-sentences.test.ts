import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, UserError } from '../../src/errors.js';
import { describeIoError } from '../../src/io-errors.js';
import { spawnCli } from '../support/cli-process.js';

/**
 * File-system failures reach the user as one sentence naming the path and what to do, with the
 * exit code of the command-line contract, never as "Unexpected error … This is a bug". The
 * command line runs as a process, pointed at paths of the wrong kind. (Tests run as root, so a
 * chmod-ed folder would not refuse anything: permissions come from sysfs, which refuses root too.)
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-errors-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string>) {
  const proc = spawnCli(args, {
    MARKET_SOURCE: 'simulator',
    SIMULATOR_HISTORY_HOURS: '1',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const { code } = await proc.exited;
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

function expectSentence(stderr: string, path: string, todo: RegExp): void {
  expect(stderr).not.toMatch(/Unexpected error|This is a bug/);
  expect(stderr).toContain(path);
  expect(stderr).toMatch(todo);
  // One sentence on one line (the logs are at warn level, so there is nothing else).
  expect(stderr.trim().split('\n')).toHaveLength(1);
}

const NOW = '--now=2025-03-01T12:00:00Z';

describe('paths of the wrong kind, through the command line', () => {
  it('a data folder that is a file: exit 2, the path and what to do', async () => {
    const file = join(dir, 'data');
    await writeFile(file, 'not a folder');
    const result = await run(['status', NOW], { DATA_DIR: file });
    expect(result.code).toBe(ExitCode.Usage);
    expectSentence(result.stderr, file, /is a file where a folder belongs: point DATA_DIR/);
  });

  it('a database path that is a folder: exit 2', async () => {
    const folder = join(dir, 'db.duckdb');
    await mkdir(folder);
    const result = await run(['status', NOW, '--db', folder], { DATA_DIR: join(dir, 'data') });
    expect(result.code).toBe(ExitCode.Usage);
    expectSentence(result.stderr, folder, /is a folder where a file belongs: point .*DUCKDB_PATH/);
  });

  it('a landing path that is a file: exit 2, and the job names it', async () => {
    const data = join(dir, 'data');
    await mkdir(data);
    await writeFile(join(data, 'landing'), 'not a folder');
    const result = await run(['ingest', NOW], { DATA_DIR: data });
    expect(result.code).toBe(ExitCode.Usage);
    expect(result.stderr).not.toMatch(/Unexpected error|This is a bug/);
    expect(result.stderr).toContain(join(data, 'landing'));
    expect(result.stderr).toMatch(/folder belongs/);
  });

  it('a full disk (the database file on /dev/full): exit 1, free space or move', async () => {
    const result = await run(['status', NOW, '--db', '/dev/full'], { DATA_DIR: join(dir, 'data') });
    expect(result.code).toBe(ExitCode.Failure);
    expectSentence(
      result.stderr,
      '/dev/full',
      /No space left on the device holding \/dev\/full: free some space/,
    );
  });

  it.runIf(process.platform === 'linux')('a folder the user may not create (in sysfs): exit 1', async () => {
    const denied = '/sys/crypto-risk-data';
    const result = await run(['status', NOW], { DATA_DIR: denied });
    expect(result.code).toBe(ExitCode.Failure);
    expectSentence(result.stderr, denied, /Permission denied on .*: give the user running crypto-risk/);
  });

  it('--json carries the same sentence and exit code', async () => {
    const file = join(dir, 'data');
    await writeFile(file, 'not a folder');
    const result = await run(['status', NOW, '--json'], { DATA_DIR: file });
    expect(result.code).toBe(ExitCode.Usage);
    const { error } = JSON.parse(result.stdout) as { error: { message: string; exit_code: number } };
    expect(error.exit_code).toBe(ExitCode.Usage);
    expect(error.message).toContain(file);
  });
});

/** The mapping, fed the errors real fs calls and real DuckDB statements fail with. */
describe('describeIoError', () => {
  async function failure(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => {
        throw new Error('expected a failure');
      },
      (err: unknown) => err,
    );
  }

  it('ENOSPC from writing to /dev/full', async () => {
    const handle = await open('/dev/full', 'w');
    const err = await failure(handle.write(Buffer.alloc(4096)).finally(() => handle.close()));
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    const described = describeIoError(err);
    expect(described).toBeInstanceOf(UserError);
    expect(described?.exitCode).toBe(ExitCode.Failure);
    expect(described?.message).toMatch(/No space left .*free some space/);
  });

  it('EISDIR from opening a folder for writing, ENOTDIR from a path through a file', async () => {
    const isDir = describeIoError(await failure(open(dir, 'w')));
    expect(isDir?.message).toContain(`${dir} is a folder where a file belongs`);
    expect(isDir?.exitCode).toBe(ExitCode.Usage);
    const file = join(dir, 'f');
    await writeFile(file, '');
    const notDir = describeIoError(await failure(open(join(file, 'x'), 'w')));
    expect(notDir?.message).toContain(join(file, 'x'));
    expect(notDir?.exitCode).toBe(ExitCode.Usage);
  });

  it("DuckDB's own I/O messages, and a cause chain", async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    try {
      const full = await failure(conn.run(`COPY (SELECT 1 AS x) TO '/dev/full' (FORMAT csv)`));
      expect(describeIoError(full)?.message).toMatch(/^No space left on the device holding \/dev\/full/);
      const folder = await failure(conn.run(`COPY (SELECT 1 AS x) TO '${dir}' (FORMAT csv)`));
      expect(describeIoError(folder)?.message).toContain(`${dir} is a folder where a file belongs`);
      // Wrapped by a caller that kept it as the cause: still found.
      const wrapped = new Error('the job failed', { cause: full });
      expect(describeIoError(wrapped)?.message).toMatch(/No space left/);
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });

  it('leaves other errors alone', () => {
    expect(describeIoError(new Error('Binder Error: column x not found'))).toBeUndefined();
    expect(describeIoError(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBeUndefined();
    expect(describeIoError('a string')).toBeUndefined();
  });
});
