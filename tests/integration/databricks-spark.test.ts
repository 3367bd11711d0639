import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  feedFileSchema,
  parsePublished,
  SNAPSHOT_PATH,
  snapshotSchema,
} from '../../src/platform/databricks/published.js';

/**
 * The Databricks notebooks and SQL on open-source Apache Spark 4 with Delta Lake and MLflow
 * (databricks/spark): each `test_*.py` module there runs with a local Spark (`local[2]`) from the
 * virtual environment `.ci/run` creates (`.venv-spark`, or `SPARK_PYTHON`), and writes what the
 * notebooks publish (feed files, the serving snapshot) under CRYPTO_RISK_SPARK_OUT, which the bot's
 * own reader then parses here. Without Java or the packages, each module skips and says why.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SPARK_DIR = join(ROOT, 'databricks/spark');
const PYTHON = process.env.SPARK_PYTHON ?? join(ROOT, '.venv-spark/bin/python');
const MODULES = readdirSync(SPARK_DIR)
  .filter((f) => /^test_.*\.py$/.test(f))
  .sort()
  .map((f) => f.slice(0, -3));
const out = mkdtempSync(join(tmpdir(), 'crm-spark-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function unavailable(): string | undefined {
  if (!existsSync(PYTHON)) {
    return `no Spark environment at ${PYTHON}: python3 -m venv .venv-spark && .venv-spark/bin/pip install -r databricks/spark/requirements.txt`;
  }
  const probe = spawnSync(
    PYTHON,
    ['-c', 'import session, sys; r = session.unavailable(); print(r or ""); sys.exit(1 if r else 0)'],
    {
      cwd: SPARK_DIR,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  if (probe.status !== 0)
    return probe.stdout.trim() || probe.stderr.trim().split('\n').at(-1) || 'Spark cannot start';
  return undefined;
}
const reason = unavailable();

describe('the notebooks and SQL on Apache Spark (databricks/spark)', () => {
  it('has Spark test modules', () => {
    expect(MODULES.length).toBeGreaterThan(0);
  });

  for (const module of MODULES) {
    it(`${module} passes on a local Spark`, (ctx) => {
      if (reason) ctx.skip(reason);
      const dir = join(out, module);
      const run = spawnSync(PYTHON, ['-B', '-m', 'unittest', '-v', module], {
        cwd: SPARK_DIR,
        encoding: 'utf8',
        timeout: 600_000,
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', CRYPTO_RISK_SPARK_OUT: dir },
      });
      expect(run.status, `${run.stdout}\n${run.stderr.slice(-6000)}`).toBe(0);
      expect(run.stderr).toMatch(/\nOK( \(skipped=\d+\))?\s*$/);
      // What the notebooks published on Spark is what the bot reads.
      const feed = join(dir, 'feed');
      const names = existsSync(feed) ? readdirSync(feed).filter((f) => /^\d{8}T\d{9}Z\.json$/.test(f)) : [];
      for (const name of names) {
        const file = parsePublished(feedFileSchema, readFileSync(join(feed, name)), name);
        expect(file.windows.length).toBeGreaterThan(0);
      }
      const snapshot = join(dir, SNAPSHOT_PATH);
      if (existsSync(snapshot)) parsePublished(snapshotSchema, readFileSync(snapshot), SNAPSHOT_PATH);
      // The inference notebook (test_jobs) publishes both on Spark, and the bot's reader takes them.
      if (module === 'test_jobs') expect([names.length > 0, existsSync(snapshot)]).toEqual([true, true]);
    }, 620_000);
  }
});
