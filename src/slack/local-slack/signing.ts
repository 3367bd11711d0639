import { createHmac } from 'node:crypto';

/**
 * Slack's request signing (version v0): the hex HMAC-SHA256 of `v0:<timestamp>:<raw body>` keyed
 * with the app's signing secret, sent as `X-Slack-Signature: v0=<hex>` next to
 * `X-Slack-Request-Timestamp: <unix seconds>`. Receivers reject timestamps older than 5 minutes.
 */
export function signSlackRequest(
  secret: string,
  body: string,
  timestamp: number,
): { 'x-slack-request-timestamp': string; 'x-slack-signature': string } {
  const ts = String(Math.floor(timestamp));
  const hex = createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');
  return { 'x-slack-request-timestamp': ts, 'x-slack-signature': `v0=${hex}` };
}
