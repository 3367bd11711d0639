import type { IMessageActivityInput } from '@microsoft/teams.api';
import type { Reply } from '../domain/reply.js';
import type { Logger } from '../log.js';
import { ADAPTIVE_CARD_CONTENT_TYPE, renderCard } from '../render/cards.js';
import { renderChartPng } from '../render/chart.js';
import type { ChartStore } from './chart-store.js';

/** A message activity as the connector takes it (Bot Connector API, "Activity object"). */
export type CardActivity = IMessageActivityInput;

export type CardMessages = ReturnType<typeof createCardMessages>;

/**
 * Replies as Teams messages: one Adaptive Card (render/cards.ts). A reply's chart is rendered to a
 * PNG, kept in the chart store and named by URL (`<publicUrl>/charts/<sha256>.png`): an image
 * inline as a data URI would take most of a message's size limit. A chart that cannot be drawn
 * leaves a note in the card instead (the renderer's, without a chart URL); it never fails the answer.
 */
export function createCardMessages(deps: { charts: ChartStore; publicUrl: string; logger: Logger }) {
  async function chartUrl(reply: Reply): Promise<string | undefined> {
    if (!reply.chart) return undefined;
    try {
      const hash = deps.charts.put(await renderChartPng(reply.chart));
      return `${deps.publicUrl}/charts/${hash}.png`;
    } catch (err) {
      deps.logger.warn({ asset: reply.chart.asset, err: String(err) }, 'teams: could not draw the chart');
      return undefined;
    }
  }
  return {
    /** The card of a reply (for an invoke's answer), its chart drawn and hosted. */
    async card(reply: Reply): Promise<unknown> {
      const url = await chartUrl(reply);
      return renderCard(reply, url ? { chartUrl: url } : {}).card;
    },
    /** A reply as a card; a sentence as plain text (never read as markup). */
    async message(reply: Reply | string): Promise<CardActivity> {
      if (typeof reply === 'string') return { type: 'message', text: reply, textFormat: 'plain' };
      const card = await this.card(reply);
      return { type: 'message', attachments: [{ contentType: ADAPTIVE_CARD_CONTENT_TYPE, content: card }] };
    },
  };
}
