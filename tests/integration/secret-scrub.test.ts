import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createCoinGeckoClient } from '../../src/market/coingecko.js';
import { createDatabricksRest } from '../../src/platform/databricks/rest.js';
import { createWarehouse } from '../../src/platform/databricks/warehouse.js';
import { startCoinGeckoEmulator } from '../support/coingecko-emulator.js';
import { type DatabricksHarness, startDatabricksHarness } from '../support/databricks-harness.js';
import { freePort } from '../support/free-port.js';

/**
 * Credentials set to distinctive strings, calls made to fail against the loopback emulators, and
 * every way an error gets printed (inspect with everything shown, JSON, the log lines) searched
 * for the secrets.
 */

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

function memoryLogger(): { logger: Logger; logs: string[] } {
  const logs: string[] = [];
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    destination: { write: (line: string) => logs.push(line) },
  });
  return { logger, logs };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (err: unknown) => ({ resolved: false as const, err }),
  );
  expect(outcome.resolved, 'the call was expected to fail').toBe(false);
  return (outcome as { err: unknown }).err;
}

/** Every printed form of an error (and the log lines) holds none of the secrets. */
function expectNoSecrets(err: unknown, logs: string[], secrets: string[]): void {
  const forms = [
    inspect(err, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    inspect((err as { cause?: unknown }).cause, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    safeJson(err),
    safeJson((err as { cause?: unknown }).cause),
    String(err),
    ...logs,
  ];
  for (const secret of secrets) {
    for (const form of forms) expect(form).not.toContain(secret);
  }
}

function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object') {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
      // Own non-enumerable properties (message, stack, cause) count too.
      if (v instanceof Error)
        return { ...Object.fromEntries(Object.getOwnPropertyNames(v).map((k) => [k, (v as never)[k]])) };
    }
    return v;
  });
}

async function harness(auth: 'token' | 'oauth'): Promise<DatabricksHarness> {
  const h = await startDatabricksHarness({ auth, warehouseState: 'RUNNING' });
  closers.push(() => h.close());
  return h;
}

describe('Databricks REST errors carry no token', () => {
  for (const status of [401, 403, 500]) {
    it(`a personal access token, HTTP ${status}`, async () => {
      const h = await harness('token');
      const { logger, logs } = memoryLogger();
      const rest = createDatabricksRest({ settings: h.settings, logger, retries: 1, retryBaseDelayMs: 1 });
      h.api.fault('*', { kind: 'status', status }, { kind: 'status', status });
      const err = await rejection(rest.get('/api/2.0/sql/warehouses/abc123def4567890'));
      expect(String(err)).toContain(`HTTP ${status}`);
      expectNoSecrets(err, logs, [h.api.token]);
    });
  }

  it('a personal access token, a reset connection and a timeout', async () => {
    const h = await harness('token');
    const { logger, logs } = memoryLogger();
    const rest = createDatabricksRest({
      settings: h.settings,
      logger,
      retries: 1,
      retryBaseDelayMs: 1,
      timeoutMs: 100,
    });
    h.api.fault('*', { kind: 'reset' }, { kind: 'reset' });
    expectNoSecrets(await rejection(rest.post('/api/2.1/jobs/run-now', { job_id: 1 })), logs, [h.api.token]);
    h.api.fault('*', { kind: 'delay', ms: 400 }, { kind: 'delay', ms: 400 });
    expectNoSecrets(await rejection(rest.get('/api/2.1/jobs/list')), logs, [h.api.token]);
  });

  it('OAuth: the client secret (basic auth on the token call) and the access token', async () => {
    const h = await harness('oauth');
    const { logger, logs } = memoryLogger();
    const rest = createDatabricksRest({ settings: h.settings, logger, retries: 0, retryBaseDelayMs: 1 });
    // The token endpoint itself fails: the error is the one made of the basic-auth request.
    h.api.fault('POST /oidc/v1/token', { kind: 'status', status: 500 });
    const tokenErr = await rejection(rest.get('/api/2.1/jobs/list'));
    expect(String(tokenErr)).toContain('/oidc/v1/token');
    expectNoSecrets(tokenErr, logs, [h.api.clientSecret, h.api.clientId]);
    // A token is issued, then the call with it fails (403 twice: once more after re-authenticating).
    h.api.fault('GET /api/2.1/jobs/list', { kind: 'status', status: 403 }, { kind: 'status', status: 403 });
    const callErr = await rejection(rest.get('/api/2.1/jobs/list'));
    expect(h.api.oauthTokensIssued()).toBeGreaterThan(0);
    expectNoSecrets(callErr, logs, [h.api.clientSecret, h.api.clientId]);
    expect(inspect(callErr, { depth: Number.POSITIVE_INFINITY, showHidden: true })).not.toMatch(
      /Bearer [^[]/,
    );
  });
});

describe('SQL warehouse errors carry no token', () => {
  it('a statement the warehouse rejects', async () => {
    const h = await harness('token');
    const err = await rejection(h.sql.query('SELEC nonsense FROM nowhere'));
    expect(String(err)).toContain('SQL warehouse');
    expectNoSecrets(err, h.logs, [h.api.token]);
  });

  it('a warehouse that cannot be reached', async () => {
    const h = await harness('token');
    const { logger, logs } = memoryLogger();
    const rest = createDatabricksRest({ settings: h.settings, logger, retries: 0 });
    const sql = createWarehouse({
      settings: h.settings,
      rest,
      logger,
      endpoint: { host: '127.0.0.1', port: await freePort() },
    });
    closers.push(() => sql.close());
    const err = await rejection(sql.query('SELECT 1'));
    expectNoSecrets(err, logs, [h.api.token]);
  });
});

describe('CoinGecko errors carry no API key', () => {
  const KEY = 'CG-sEcReT-scrub-test-9f8e7d6c5b4a';
  for (const [plan, fault] of [
    ['pro', { kind: 'status', status: 401 }],
    ['demo', { kind: 'status', status: 500 }],
    ['pro', { kind: 'reset' }],
    ['demo', { kind: 'delay', ms: 500 }],
  ] as const) {
    it(`${plan} key, ${fault.kind}${'status' in fault ? ` ${fault.status}` : ''}`, async () => {
      const emu = await startCoinGeckoEmulator();
      closers.push(() => emu.close());
      const { logger, logs } = memoryLogger();
      const client = createCoinGeckoClient({
        plan,
        apiKey: KEY,
        baseUrl: emu.url,
        timeoutMs: 150,
        retries: 1,
        maxRetryAfterMs: 1_000,
        retryBaseDelayMs: 1,
        logger,
      });
      emu.fault(fault, fault);
      const err = await rejection(client.markets(['bitcoin']));
      // The key was sent (so a leak would have been possible), and is nowhere in what came back.
      // Retries included: the cleaning must not cost a retry its key.
      expect(emu.requests.length).toBe('status' in fault && fault.status === 401 ? 1 : 2);
      expect(emu.requests.every((r) => Object.values(r.headers).includes(KEY))).toBe(true);
      expectNoSecrets(err, logs, [KEY]);
    });
  }
});

describe('a config file with a JSON syntax error', () => {
  const secret = 'xoxb-config-secret-0123456789';
  // The second: an unquoted value, for which JSON.parse's own message quotes the text around it.
  for (const [body, line] of [
    [`{\n  "SLACK_BOT_TOKEN": "${secret}",\n  "LOG_LEVEL": "info" oops\n}\n`, 3],
    [`{\n  "LOG_LEVEL": "info",\n  "SLACK_BOT_TOKEN": ${secret}\n}\n`, 3],
  ] as const) {
    it(`is reported by line and column, without echoing the text (line ${line})`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'crm-scrub-'));
      closers.push(() => rm(dir, { recursive: true, force: true }));
      const file = join(dir, 'crypto-risk.config.json');
      await writeFile(file, body);
      const err = (() => {
        try {
          loadConfig({ env: { CRYPTO_RISK_CONFIG: file }, cwd: dir });
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(err, 'loadConfig was expected to fail').toBeDefined();
      const text = `${String(err)} ${inspect(err, { depth: Number.POSITIVE_INFINITY, showHidden: true })} ${safeJson(err)}`;
      expect(text).toContain(`line ${line}`);
      expect(text).not.toContain(secret.slice(0, 8));
      expect(text).not.toContain('oops');
    });
  }
});
