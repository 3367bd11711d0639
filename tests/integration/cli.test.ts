import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';

let dir: string;
let holder: ChildProcess | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-cli-'));
});
afterEach(async () => {
  holder?.kill('SIGKILL');
  holder = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Runs the command line in process, as a user would from this folder, capturing its output. */
async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    env: {
      DATA_DIR: join(dir, 'data'),
      MARKET_SOURCE: 'simulator',
      SIMULATOR_HISTORY_HOURS: '3',
      LOG_LEVEL: 'warn',
      ...env,
    },
    cwd: dir,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

const NOW = '--now=2025-03-01T12:00:00Z';

describe('crypto-risk command line', () => {
  it('ingests simulated data, runs the pipeline and reports status, labelled SIMULATED', async () => {
    const ingest = await cli(['ingest', NOW]);
    expect(ingest.code).toBe(0);
    expect(ingest.stdout).toMatch(/SIMULATED DATA/);
    expect(ingest.stdout).toMatch(/Landed 905 records in 1 file/); // 5 assets × (3 h of minutes + the tick at the start)

    const pipeline = await cli(['pipeline', NOW, '--json']);
    expect(pipeline.code).toBe(0);
    expect(pipeline.json()).toMatchObject({ files: 1, bronze: { rows_in: 905, rescued: 0 } });

    const status = await cli(['status', NOW, '--json']);
    expect(status.code).toBe(0);
    const report = status.json();
    expect(report.assets).toHaveLength(5);
    expect(report.assets.every((a: { simulated: boolean }) => a.simulated)).toBe(true);
    const gold = report.stages.find((s: { stage: string }) => s.stage === 'gold');
    expect(gold.rows).toBeGreaterThan(5 * 30);
    expect(report.jobs.map((j: { job: string; result: string }) => [j.job, j.result])).toEqual([
      ['ingest', 'succeeded'],
      ['pipeline', 'succeeded'],
    ]);
    const text = await cli(['status', NOW]);
    expect(text.stdout).toMatch(
      /^Pipeline status \(local\)\n!! SIMULATED DATA: bitcoin, cardano, dogecoin, ethereum, solana/,
    );
    expect(text.stdout).toMatch(/\n {2}gold +[\d,]+ +2025-03-01 1\d:\d\d UTC/);

    const top = await cli(['top', '5', '--since', '7d', NOW, '--json']);
    expect(top.code).toBe(0);
    expect(top.json()).toMatchObject({ period: '7d', scored_windows: 0, leaderboard: [], windows: [] });
    expect((await cli(['top', NOW])).stdout).toMatch(/No windows were scored in the last 24h/);

    const sql = await cli([
      'sql',
      'SELECT asset, count(*) AS windows FROM metrics_gold GROUP BY asset ORDER BY asset',
      '--json',
    ]);
    expect(sql.code).toBe(0);
    expect(sql.json().rows.map((r: { asset: string }) => r.asset)).toEqual([
      'bitcoin',
      'cardano',
      'dogecoin',
      'ethereum',
      'solana',
    ]);
  });

  it('trains, scores, lists models, shows the top anomalies and writes the chart', async () => {
    expect((await cli(['ingest', NOW])).code).toBe(0);
    expect((await cli(['pipeline', NOW])).code).toBe(0);
    const train = await cli(['train', NOW]);
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/^Model v1 trained\n/);
    expect(train.stdout).toMatch(/Period: +2025-02-22 12:00 UTC – 2025-03-01 12:00 UTC/);
    const infer = await cli(['infer', NOW, '--json']);
    expect(infer.code).toBe(0);
    const scored = infer.json();
    expect(scored).toMatchObject({ model_version: 1, updated: 0 });
    expect(scored.scored).toBeGreaterThan(150);
    expect(scored.new_anomalies.length).toBeGreaterThan(0);

    const models = await cli(['models', NOW, '--json']);
    expect(models.json()).toMatchObject({ champion: 1, versions: [{ version: 1, aliases: ['champion'] }] });
    const top = await cli(['top', '3', '--since', '24h', NOW, '--json']);
    const result = top.json();
    expect(result.scored_windows).toBe(scored.scored);
    expect(result.windows).toHaveLength(3);
    expect(result.windows[0].anomaly_score).toBe(scored.new_anomalies[0].anomaly_score);
    expect((await cli(['top', '3', NOW])).stdout).toMatch(/!! SIMULATED DATA/);

    const out = join(dir, 'charts', 'btc.png');
    const chart = await cli(['chart', 'bitcoin', '--out', out, NOW]);
    expect(chart.code).toBe(0);
    expect(readFileSync(out).subarray(1, 4).toString()).toBe('PNG');
    expect(chart.stdout).toMatch(
      /bitcoin \(BTC\): 5-minute average price, last 24h · \d+ anomal(y|ies) · SIMULATED DATA/,
    );
    const unknown = await cli(['chart', 'bitcoinn', '--out', out, NOW]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/There is no data for "bitcoinn"\. Assets with data: bitcoin, cardano/);
    expect((await cli(['promote', '9'])).stderr).toMatch(/There is no model version 9/);
  });

  it('refuses anything but one read-only statement, and changes nothing', async () => {
    await cli(['ingest', NOW]);
    await cli(['pipeline', NOW]);
    const count = async () =>
      (await cli(['sql', 'SELECT count(*) AS n FROM prices_silver', '--json'])).json().rows[0].n;
    const before = await count();
    for (const statement of [
      'DELETE FROM prices_silver',
      'DROP TABLE metrics_gold',
      "COPY prices_silver TO 'x.csv'",
      'SELECT 1; DELETE FROM prices_silver',
      "ATTACH 'other.duckdb'",
    ]) {
      const result = await cli(['sql', statement]);
      expect(result.code, statement).toBe(2);
      expect(result.stderr, statement).toMatch(/Only read-only queries|exactly one statement/);
    }
    expect(await count()).toBe(before);
    const bad = await cli(['sql', 'SELEC nonsense']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not valid SQL/);
    const limited = await cli(['sql', 'SELECT * FROM prices_silver', '--max-rows', '3', '--json']);
    expect(limited.json()).toMatchObject({ truncated: true });
    expect(limited.json().rows).toHaveLength(3);
  });

  it('answers bad arguments with usage and exit code 2, without touching storage', async () => {
    for (const args of [
      ['top', '0'],
      ['top', 'abc'],
      ['top', '--since', '7x'],
      ['top', '--asset', 'Robert;DROP TABLE'],
      ['ingest', '--source', 'kraken'],
      ['status', '--now', 'yesterday'],
      ['frobnicate'],
    ]) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.length, args.join(' ')).toBeGreaterThan(0);
    }
    expect((await cli(['top', 'abc'])).stderr).toMatch(/N must be a whole number from 1 to 500/);
    expect((await cli(['top', '--since', '7x'])).stderr).toMatch(
      /--since must be a duration like 90m, 24h, 7d or 2w/,
    );
    expect(existsSync(join(dir, 'data', 'landing'))).toBe(false);
  });

  it('stops on bad settings with one message listing every problem (also as JSON), creating nothing', async () => {
    const result = await cli(['status', '--json'], {
      MARKET_SOURCE: 'kraken',
      LOG_FORMAT: 'xml',
      COINGECKO_API_KEY: 'CG-topsecret',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/The configuration has 2 problems/);
    expect(result.stderr).toMatch(/MARKET_SOURCE: must be/);
    expect(result.stderr).toMatch(/LOG_FORMAT: must be pretty or json/);
    expect(result.stderr + result.stdout).not.toContain('CG-topsecret');
    expect(result.json().error.problems).toHaveLength(2);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('names the process that holds the database file, with exit code 3', async () => {
    const db = join(dir, 'held.duckdb');
    holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DuckDBInstance } from '@duckdb/node-api';
         const instance = await DuckDBInstance.create(${JSON.stringify(db)});
         await instance.connect();
         console.log('ready');
         setInterval(() => {}, 1000);`,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      holder?.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      holder?.on('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
    });
    const result = await cli(['status', '--db', db]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`is in use by another process (PID ${holder.pid}`);
    expect(result.stderr).toMatch(/stop that process .* or point --db \/ DUCKDB_PATH at another file/);
  });
});
