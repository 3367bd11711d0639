import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The Python side of the Databricks deployment (databricks/), checked as far as this machine allows:
 * PySpark, dlt, MLflow and the Databricks runtime are not here, so the notebooks are compiled and
 * linted, and the pure-Python helpers they import run their unit tests against the same fixtures as
 * the TypeScript engine (databricks/tests). Python is Debian's (`/usr/bin/python3`, or `PYTHON`),
 * with pandas, numpy, scikit-learn and pyflakes; without them the tests skip and say why.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const pyFiles = (dir: string): string[] =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.py'))
    .sort()
    .map((f) => join(ROOT, dir, f));
const NOTEBOOKS = pyFiles('databricks/notebooks');
const HELPERS = pyFiles('databricks/lib/crypto_risk');
const TESTS = pyFiles('databricks/tests');
/** The notebooks' runners and tests on Apache Spark (run by databricks-spark.test.ts), compiled and linted here. */
const SPARK = pyFiles('databricks/spark');

/** py_compile writes the bytecode to a temporary folder, so nothing lands in the tree. */
const COMPILE = `
import os, py_compile, sys, tempfile
with tempfile.TemporaryDirectory() as out:
    for i, path in enumerate(sys.argv[1:]):
        py_compile.compile(path, cfile=os.path.join(out, f"{i}.pyc"), doraise=True)
print(len(sys.argv) - 1)
`;

function python(args: string[], timeoutMs = 120_000) {
  return spawnSync(PYTHON, ['-B', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
}

/** Why these checks cannot run here (to skip with), or undefined when they can. */
function unavailable(modules: string[]): string | undefined {
  const probe = python(['-c', `import ${['sys', ...modules].join(', ')}`], 30_000);
  if (probe.error)
    return `${PYTHON} could not be run (${probe.error.message}); set PYTHON to a Python 3 with them`;
  if (probe.status !== 0) {
    const last = probe.stderr.trim().split('\n').at(-1) ?? `exit code ${probe.status}`;
    const install = 'apt-get install python3-pandas python3-sklearn python3-pyflakes';
    return `${PYTHON} lacks ${modules.join(', ')} (${last}); ${install}`;
  }
  return undefined;
}

describe('databricks/ Python assets', () => {
  it('finds the four notebooks, the helpers and their tests', () => {
    expect(NOTEBOOKS.map((f) => f.split('/').at(-1))).toEqual([
      '01_ingest_prices.py',
      '02_dlt_pipeline.py',
      '03_train_iforest.py',
      '04_infer_iforest.py',
    ]);
    expect(HELPERS.length).toBeGreaterThanOrEqual(3);
    expect(TESTS.length).toBeGreaterThanOrEqual(2);
  });

  it('compiles every notebook, helper and test (py_compile)', (ctx) => {
    const reason = unavailable([]);
    if (reason) ctx.skip(reason);
    const files = [...NOTEBOOKS, ...HELPERS, ...TESTS, ...SPARK];
    const run = python(['-c', COMPILE, ...files]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(String(files.length));
  });

  it('pyflakes finds nothing (the Databricks globals are declared, not ignored)', (ctx) => {
    const reason = unavailable(['pyflakes']);
    if (reason) ctx.skip(reason);
    const run = python(['-m', 'pyflakes', ...NOTEBOOKS, ...HELPERS, ...TESTS, ...SPARK]);
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    expect(run.stdout.trim()).toBe('');
  });

  it('passes the Python unit tests: features and scoring against the TypeScript fixtures', (ctx) => {
    const reason = unavailable(['numpy', 'pandas', 'scipy', 'sklearn']);
    if (reason) ctx.skip(reason);
    const run = python(['-m', 'unittest', 'discover', '-s', 'databricks/tests'], 170_000);
    expect(run.status, run.stderr).toBe(0);
    const ran = Number(/Ran (\d+) tests?/.exec(run.stderr)?.[1] ?? 0);
    expect(ran).toBeGreaterThanOrEqual(40);
    expect(run.stderr).toMatch(/\nOK\s*$/);
  }, 180_000);
});
