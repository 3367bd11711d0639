import type { Activity } from './activities.js';

/**
 * What Teams refuses in an outgoing bot message. Each rule returns the status and the
 * Bot Connector ErrorResponse {error: {code, message}} (Bot Connector API reference, ErrorResponse
 * object: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#errorresponse-object).
 */
export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/**
 * The Bot Framework refuses a request body over 262144 bytes with 413 MessageSizeTooBig
 * ("The request content length exceeded limit of 262144 bytes", as the service words it:
 * https://github.com/microsoft/botframework-sdk/issues/6669).
 */
export const MAX_REQUEST_BYTES = 262_144;

/**
 * Teams' own bot message limit: 100 KB counted in UTF-16, base64 images excluded, answered with
 * 413 RequestEntityTooLarge / MessageSizeTooBig ("Format your bot messages", note on the bot message
 * size limit: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/format-your-bot-messages).
 */
export const MAX_MESSAGE_UTF16_BYTES = 100 * 1024;

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

/**
 * Teams renders Adaptive Cards up to schema 1.5 in bots (Copilot Studio's Adaptive Cards overview:
 * "Teams is also limited to version 1.5": https://learn.microsoft.com/microsoft-copilot-studio/adaptive-cards-overview;
 * Teams cards reference: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-reference).
 */
export const MAX_CARD_VERSION = '1.5';

/**
 * Action.Execute needs a card of version 1.5: below that the card "stops working" in Teams
 * ("Work with Universal Actions for Adaptive Cards", Schema:
 * https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards).
 */
export const MIN_ACTION_EXECUTE_VERSION = '1.5';

const DATA_URI_BASE64 = /data:[^"';,]+;base64,[A-Za-z0-9+/=]+/g;

export function checkRequestSize(bytes: number): Refusal | undefined {
  if (bytes <= MAX_REQUEST_BYTES) return undefined;
  return {
    status: 413,
    code: 'MessageSizeTooBig',
    message: `The request content length exceeded limit of ${MAX_REQUEST_BYTES} bytes.`,
  };
}

/** Checks one activity the bot sends or updates. */
export function checkOutgoing(activity: unknown): Refusal | undefined {
  if (!activity || typeof activity !== 'object' || Array.isArray(activity)) {
    return bad('The activity must be a JSON object.');
  }
  const a = activity as Activity;
  if (typeof a.type !== 'string' || a.type.length === 0) return bad("The activity has no 'type'.");
  const size = utf16Bytes(JSON.stringify(a).replace(DATA_URI_BASE64, ''));
  if (size > MAX_MESSAGE_UTF16_BYTES) {
    return {
      status: 413,
      code: 'MessageSizeTooBig',
      message: `Message size is ${size} bytes in UTF-16, over the ${MAX_MESSAGE_UTF16_BYTES} byte limit.`,
    };
  }
  if (a.attachments !== undefined && !Array.isArray(a.attachments))
    return bad("'attachments' must be an array.");
  for (const [i, attachment] of ((a.attachments as unknown[] | undefined) ?? []).entries()) {
    const refusal = checkAttachment(attachment, i);
    if (refusal) return refusal;
  }
  if (a.type === 'message' && !hasContent(a)) {
    return bad('A message activity needs text, attachments or suggested actions.');
  }
  return undefined;
}

function checkAttachment(attachment: unknown, index: number): Refusal | undefined {
  if (!attachment || typeof attachment !== 'object') return bad(`Attachment ${index} is not an object.`);
  const { contentType, content } = attachment as { contentType?: unknown; content?: unknown };
  if (typeof contentType !== 'string' || contentType.length === 0) {
    return bad(`Attachment ${index} has no contentType.`);
  }
  const looksAdaptive =
    content !== null &&
    typeof content === 'object' &&
    (content as { type?: unknown }).type === 'AdaptiveCard';
  if (contentType !== ADAPTIVE_CARD_CONTENT_TYPE) {
    if (looksAdaptive || /adaptive/i.test(contentType)) {
      return bad(
        `Attachment ${index} holds an Adaptive Card but its contentType is '${contentType}', not '${ADAPTIVE_CARD_CONTENT_TYPE}'.`,
      );
    }
    return undefined;
  }
  if (!looksAdaptive) return bad(`Attachment ${index} content must be an object with type 'AdaptiveCard'.`);
  const card = content as { version?: unknown };
  if (typeof card.version !== 'string' || !/^\d+\.\d+$/.test(card.version)) {
    return bad(
      `Attachment ${index}: the Adaptive Card needs a version like "1.5"; got ${JSON.stringify(card.version)}.`,
    );
  }
  if (compareVersions(card.version, MAX_CARD_VERSION) > 0) {
    return bad(
      `Attachment ${index}: Adaptive Card version ${card.version} is above ${MAX_CARD_VERSION}, the highest Teams renders.`,
    );
  }
  if (
    compareVersions(card.version, MIN_ACTION_EXECUTE_VERSION) < 0 &&
    JSON.stringify(content).includes('"Action.Execute"')
  ) {
    return bad(
      `Attachment ${index}: Action.Execute needs card version ${MIN_ACTION_EXECUTE_VERSION}; the card says ${card.version}.`,
    );
  }
  return undefined;
}

function hasContent(a: Activity): boolean {
  const text = typeof a.text === 'string' && a.text.trim().length > 0;
  const attachments = Array.isArray(a.attachments) && a.attachments.length > 0;
  return text || attachments || a.suggestedActions !== undefined;
}

/** Compares "major.minor" numerically, so 1.10 sorts above 1.5. */
function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

function utf16Bytes(text: string): number {
  return text.length * 2;
}

function bad(message: string): Refusal {
  return { status: 400, code: 'BadArgument', message };
}
