import type { Reply } from '../domain/reply.js';
import type { Platform } from '../platform/port.js';

/**
 * Where the dashboard is: on Databricks the published AI/BI dashboard (`provision --apply`
 * publishes it); on the embedded default the local console's Dashboard view, when this bot runs on
 * the console. Undefined when there is none to link to; a workspace that does not answer is
 * "unknown" rather than a failed status.
 */
export async function dashboardLink(ctx: {
  platform: Platform;
  consoleDashboardUrl?: string;
}): Promise<string | undefined> {
  if (ctx.platform.deployment) return ctx.platform.deployment.dashboardUrl();
  return ctx.consoleDashboardUrl;
}

export async function dashboardCommand(ctx: {
  platform: Platform;
  consoleDashboardUrl?: string;
}): Promise<Reply> {
  const url = await dashboardLink(ctx);
  if (url) {
    return {
      title: 'Dashboard',
      summary: ctx.platform.deployment
        ? 'The AI/BI dashboard on Databricks: price with anomaly markers, leaderboard, anomaly rate, score distribution and recent anomalies.'
        : "The local console's Dashboard: price with anomaly markers, leaderboard, anomaly rate, score distribution and recent anomalies, live over the embedded lakehouse.",
      fields: [{ label: 'Link', value: url }],
      data: { url },
    };
  }
  return {
    title: 'Dashboard',
    data: { url: null },
    summary: ctx.platform.deployment
      ? 'The dashboard is not published yet: an ops member runs `/crypto provision apply` (or `crypto-risk provision --apply`), which creates and publishes it.'
      : 'The dashboard is a view of the local console, which runs when no Slack app is configured: `npm start`, then open the console and its Dashboard tab.',
  };
}
