import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli-process.js';
import { freePort } from '../support/free-port.js';

/**
 * The data folder is private to the user running the monitor: after a round of the main job
 * (ingest, pipeline, train, infer, the console's state), every folder under it is 0700 and every
 * file 0600, whoever created it (the project, or DuckDB for its database and WAL).
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-private-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function entries(root: string): Promise<Array<{ path: string; mode: number; folder: boolean }>> {
  const out: Array<{ path: string; mode: number; folder: boolean }> = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    const s = await stat(path);
    out.push({ path, mode: s.mode & 0o777, folder: s.isDirectory() });
    if (s.isDirectory()) for (const inner of await entries(path)) out.push(inner);
  }
  return out;
}

async function runMainJob(data: string): Promise<{ stdout: string; stderr: string }> {
  const proc = spawnCli(['run'], {
    DATA_DIR: data,
    MARKET_SOURCE: 'simulator',
    SIMULATOR_HISTORY_HOURS: '3',
    PORT: String(await freePort()),
    LOG_LEVEL: 'warn',
  });
  try {
    await proc.waitFor(/first round done/, 'stdout', 120_000);
  } finally {
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
  return { stdout: proc.stdout(), stderr: proc.stderr() };
}

const octal = (mode: number) => mode.toString(8).padStart(3, '0');

describe('private files', () => {
  it('a round of the main job leaves only 0700 folders and 0600 files in the data folder', async () => {
    const data = join(dir, 'data');
    const { stdout } = await runMainJob(data);
    expect(stdout).toMatch(/Stopped cleanly/);
    expect(octal((await stat(data)).mode & 0o777)).toBe('700');
    const found = await entries(data);
    // The run wrote what it should have: the database, landing files, the console's state.
    expect(found.some((e) => e.path.endsWith('crypto.duckdb'))).toBe(true);
    expect(found.some((e) => e.path.endsWith('.jsonl'))).toBe(true);
    expect(found.some((e) => e.path.includes(`${join(data, 'console')}`))).toBe(true);
    const wrong = found
      .filter((e) => e.mode !== (e.folder ? 0o700 : 0o600))
      .map((e) => `${octal(e.mode)} ${e.path}`);
    expect(wrong).toEqual([]);
  }, 180_000);

  it('an existing data folder open to others is named in a warning and left as it is', async () => {
    const data = join(dir, 'shared-data');
    await mkdir(data);
    await chmod(data, 0o755);
    const { stderr } = await runMainJob(data);
    expect(stderr).toContain(`the data folder ${data} is readable by other users (mode 755)`);
    expect(stderr).toContain(`chmod 700 ${data}`);
    expect(octal((await stat(data)).mode & 0o777)).toBe('755');
    // What the run created inside it is private all the same.
    const wrong = (await entries(data)).filter((e) => e.mode !== (e.folder ? 0o700 : 0o600));
    expect(wrong).toEqual([]);
  }, 180_000);
});
