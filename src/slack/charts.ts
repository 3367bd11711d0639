import type { WebClient } from '@slack/web-api';
import type { ChartInput } from '../domain/reply.js';
import type { Logger } from '../log.js';
import { renderChartPng } from '../render/chart.js';
import { slackError } from './web-calls.js';

/**
 * Chart images for Slack messages. A chart is rendered to PNG, uploaded privately (the external
 * upload flow) and shown through an image block's `slack_file`. Slack processes an uploaded file
 * asynchronously: until it has, `files.info` shows an empty `mimetype` and a message naming the file
 * in an image block is refused with `invalid_blocks` (python-slack-sdk#1521, java-slack-sdk#1349,
 * node-slack-sdk#1865 and #2040). So an upload is followed by a bounded wait for readiness, and the
 * callers post without the image when it is not ready in time and add it once it is.
 */
export interface SlackCharts {
  /** Renders and uploads a chart; the file id, or undefined when that failed (logged). */
  upload(input: ChartInput): Promise<string | undefined>;
  /** Waits until Slack has processed the file, at most `withinMs` (or until `signal`); whether it is ready. */
  ready(fileId: string, withinMs: number, signal?: AbortSignal): Promise<boolean>;
}

/** The first wait between two `files.info` reads; each next one doubles, up to MAX_POLL_MS. */
const FIRST_POLL_MS = 100;
const MAX_POLL_MS = 2_000;

export function createSlackCharts(deps: { client: WebClient; logger: Logger }): SlackCharts {
  const { client, logger } = deps;
  return {
    async upload(input) {
      try {
        const png = await renderChartPng(input);
        const res = (await client.filesUploadV2({
          file: png,
          filename: `${input.asset}.png`,
          title: input.title ?? input.asset,
        })) as { files?: Array<{ files?: Array<{ id?: string }> }> };
        const id = res.files?.[0]?.files?.[0]?.id;
        if (!id) throw new Error('Slack did not return the id of the uploaded chart');
        return id;
      } catch (err) {
        logger.warn({ asset: input.asset, err: errorText(err) }, 'chart: could not upload; sent without it');
        return undefined;
      }
    },

    async ready(fileId, withinMs, signal) {
      const deadline = Date.now() + withinMs;
      for (let wait = FIRST_POLL_MS; ; wait = Math.min(wait * 2, MAX_POLL_MS)) {
        try {
          const res = await client.files.info({ file: fileId });
          if (res.file?.mimetype) return true;
        } catch (err) {
          logger.warn({ file: fileId, err: errorText(err) }, 'chart: files.info failed');
        }
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted) return false;
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait, left)));
      }
    },
  };
}

/** A response_url post refused because an image block's file is not processed yet. */
export function refusedBlocks(err: unknown): boolean {
  const body = (err as { response?: { data?: { error?: unknown } } } | undefined)?.response?.data;
  return slackError(err) === 'invalid_blocks' || body?.error === 'invalid_blocks';
}

function errorText(err: unknown): string {
  return slackError(err) ?? (err instanceof Error ? err.message : String(err));
}
