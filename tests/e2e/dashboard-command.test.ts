import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { type CliProcess, spawnCli } from '../support/cli-process.js';
import { startDatabricksEmulator } from '../support/databricks-emulator.js';
import { freePort } from '../support/free-port.js';
import { until } from '../support/until.js';

/** `/crypto dashboard` and status link to the dashboard: the console's view locally, the published AI/BI dashboard on Databricks. */

let dir: string;
let proc: CliProcess | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-dashboard-'));
});
afterEach(async () => {
  proc?.child.kill('SIGKILL');
  proc = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], env: Record<string, string>) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    env,
    cwd: dir,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

describe('/crypto dashboard', () => {
  it('on the embedded default answers with the console’s Dashboard view, which opens', async () => {
    const port = await freePort();
    proc = spawnCli(['run'], {
      DATA_DIR: join(dir, 'data'),
      MARKET_SOURCE: 'simulator',
      SIMULATOR_HISTORY_HOURS: '6',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      METRICS_PORT: 'off',
    });
    await proc.waitFor(/first round done/);
    const base = `http://127.0.0.1:${port}`;
    const sent = await fetch(`${base}/console/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ user: 'U0VIEW01', channel: 'C0CRYPTO1', text: '/crypto dashboard' }),
    });
    expect(sent.status).toBe(200);
    const answer = await until(async () => {
      const state = (await (await fetch(`${base}/console/state?user=U0VIEW01`)).json()) as {
        ephemerals: Array<{ text: string; blocks?: unknown[] }>;
      };
      return state.ephemerals.find((e) => JSON.stringify(e).includes('/dashboard'));
    });
    expect(JSON.stringify(answer)).toContain(`${base}/dashboard`);
    const page = await fetch(`${base}/dashboard`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/console/assets/dashboard.js');
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('on Databricks says it is not published until provision --apply, then links the published dashboard (status too)', async () => {
    // A stopped warehouse: status answers from the feed files and never starts it.
    const api = await startDatabricksEmulator({ warehouses: [{ id: 'abc123def4567890', state: 'STOPPED' }] });
    try {
      const env = {
        DATA_DIR: join(dir, 'data'),
        LOG_LEVEL: 'warn',
        DATABRICKS_HOST: api.url,
        DATABRICKS_TOKEN: api.token,
        DATABRICKS_WAREHOUSE_ID: 'abc123def4567890',
      };
      const before = await cli(['dashboard'], env);
      expect(before.code).toBe(0);
      expect(before.out).toMatch(/not published yet: an ops member runs `\/crypto provision apply`/);
      const applied = await cli(['provision', '--apply'], env);
      expect(applied.code, applied.err).toBe(0);
      const link = new RegExp(`${api.url.replace(/[.:/]/g, '\\$&')}/dashboardsv3/[0-9a-f]{32}/published`);
      expect(applied.out).toMatch(link);
      const after = await cli(['dashboard', '--json'], env);
      expect(after.code).toBe(0);
      expect(JSON.parse(after.out).url).toMatch(link);
      const status = await cli(['status'], env);
      expect(status.code, status.err).toBe(0);
      expect(status.out).toMatch(new RegExp(`Dashboard.*${link.source}`));
    } finally {
      await api.close();
    }
  });
});
