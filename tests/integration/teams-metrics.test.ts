import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { createReadiness } from '../../src/readiness.js';
import { startTeamsHarness, type TeamsHarness, VIEWER } from '../support/teams-bot-harness.js';
import { personalConversationId } from '../support/teams-emulator.js';
import { until } from '../support/until.js';

/**
 * The Teams bot's part of the metrics (each activity's acknowledgement, Bot Connector calls by
 * endpoint, feed cards) and its /readyz, through the Bot Framework emulator over loopback.
 */

let harness: TeamsHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function value(
  metrics: ReturnType<typeof createMetrics>,
  name: string,
  labels: Record<string, string>,
) {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const matching = (metric?.values ?? []).filter((v) =>
    Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return matching.reduce((sum, v) => sum + v.value, 0);
}

describe('Teams metrics and readiness', () => {
  it('count acks by command, connector calls by endpoint and posted feed cards', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    harness = await startTeamsHarness({ metrics });
    await harness.install();
    const res = await harness.teams.send(harness.teams.activities.personalMessage(VIEWER, 'top 5 24h'));
    expect(res.status).toBe(200);
    const chat = personalConversationId(harness.settings.credentials?.clientId ?? '', VIEWER);
    const teams = harness.teams;
    await until(() => teams.botMessages(chat).length > 0);
    const acks = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'crypto_risk_command_ack_seconds',
    );
    // A histogram's values are its buckets, sum and count, each named (prom-client's MetricValue).
    const count = (
      (acks?.values ?? []) as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>
    ).find((v) => v.metricName === 'crypto_risk_command_ack_seconds_count' && v.labels.command === 'top');
    expect(count).toMatchObject({ value: 1, labels: { surface: 'teams', command: 'top' } });

    const feed = await harness.bot.feed.runOnce();
    expect(feed.posted).toBeGreaterThan(0);
    expect(
      await value(metrics, 'crypto_risk_feed_messages_total', { surface: 'teams', outcome: 'posted' }),
    ).toBe(feed.posted);
    expect(
      await value(metrics, 'crypto_risk_api_requests_total', {
        service: 'teams',
        endpoint: '/teams/v3/conversations/{id}/activities',
        code: '201',
      }),
    ).toBeGreaterThanOrEqual(feed.posted);
    // The Entra token the bot asked for, counted under its own service.
    expect(
      await value(metrics, 'crypto_risk_api_requests_total', {
        service: 'entra',
        endpoint: '/{id}/oauth2/v2.0/token',
        code: '200',
      }),
    ).toBe(1);
  });

  it('answer /readyz on the bot port: ready with the Bot Connector token, 503 naming a failing check', async () => {
    let platformUp = true;
    const readiness = createReadiness({
      checks: {
        async platform() {
          if (!platformUp) throw new Error('the databricks platform does not answer (ECONNRESET)');
        },
      },
      cacheMs: 0,
    });
    harness = await startTeamsHarness({ readiness });
    const url = new URL('/readyz', harness.endpoint).href;
    const ready = await fetch(url);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { platform: 'ok', 'teams auth': 'ok' } });
    platformUp = false;
    const down = await fetch(url);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({
      status: 'not ready',
      failing: ['platform'],
      checks: { platform: 'the databricks platform does not answer (ECONNRESET)', 'teams auth': 'ok' },
    });
    expect((await fetch(new URL('/healthz', harness.endpoint))).status).toBe(200);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });
});
