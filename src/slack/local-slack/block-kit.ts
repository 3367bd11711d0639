/**
 * Block Kit limit validation, the way Slack rejects a message or view: every violation becomes one
 * line `<what is wrong> [json-pointer:/blocks/3/text/text]`, and any line makes the call fail
 * (messages: `invalid_blocks`; views: `invalid_arguments`). Only the block types the bot uses are
 * known (header, section, divider, context, image, actions, rich_text); anything else is rejected,
 * so a new block type has to be added here on purpose.
 */

export interface BlockKitRules {
  /** 50 for messages, 100 for Home tabs and modals. */
  maxBlocks: number;
  /** JSON pointer of the blocks array in the request, e.g. /blocks or /view/blocks. */
  pointer: string;
  /**
   * Whether a slack_file object (by id or url) names a file a block may show: one of this
   * workspace whose upload Slack has completed and processed.
   */
  fileUsable(ref: { id?: string; url?: string }): boolean;
}

export const MESSAGE_MAX_BLOCKS = 50;
export const VIEW_MAX_BLOCKS = 100;

const LIMITS = {
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  headerText: 150,
  actionsElements: 25,
  contextElements: 10,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  blockId: 255,
  url: 3000,
  altText: 2000,
  imageTitle: 2000,
} as const;

const KNOWN_BLOCKS = new Set(['header', 'section', 'divider', 'context', 'image', 'actions', 'rich_text']);

type Issues = string[];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function at(issues: Issues, pointer: string, what: string): void {
  issues.push(`${what} [json-pointer:${pointer}]`);
}

/** Returns the violations; empty when the blocks are valid. */
export function validateBlocks(blocks: unknown, rules: BlockKitRules): string[] {
  const issues: Issues = [];
  if (!Array.isArray(blocks)) {
    at(issues, rules.pointer, 'must provide an array');
    return issues;
  }
  if (blocks.length > rules.maxBlocks) {
    at(issues, rules.pointer, `no more than ${rules.maxBlocks} items allowed`);
  }
  const blockIds = new Set<string>();
  blocks.forEach((block, i) => {
    const p = `${rules.pointer}/${i}`;
    if (!isObject(block) || typeof block.type !== 'string') {
      at(issues, p, 'must provide an object with a type');
      return;
    }
    if (block.block_id !== undefined) {
      if (typeof block.block_id !== 'string' || block.block_id.length === 0) {
        at(issues, `${p}/block_id`, 'must be a non-empty string');
      } else if (block.block_id.length > LIMITS.blockId) {
        at(issues, `${p}/block_id`, `must be less than ${LIMITS.blockId + 1} characters`);
      } else if (blockIds.has(block.block_id)) {
        at(issues, `${p}/block_id`, `duplicate block_id ${block.block_id}`);
      } else {
        blockIds.add(block.block_id);
      }
    }
    if (!KNOWN_BLOCKS.has(block.type)) {
      at(issues, `${p}/type`, `unsupported block type: ${block.type}`);
      return;
    }
    validateBlock(block, p, rules, issues);
  });
  return issues;
}

function validateBlock(
  block: Record<string, unknown>,
  p: string,
  rules: BlockKitRules,
  issues: Issues,
): void {
  switch (block.type) {
    case 'header':
      textObject(block.text, `${p}/text`, LIMITS.headerText, issues, { plainOnly: true, required: true });
      return;
    case 'section': {
      if (block.text === undefined && block.fields === undefined) {
        at(issues, p, 'must provide text or fields');
      }
      if (block.text !== undefined) textObject(block.text, `${p}/text`, LIMITS.sectionText, issues, {});
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields)) {
          at(issues, `${p}/fields`, 'must provide an array');
        } else {
          if (block.fields.length > LIMITS.fields) {
            at(issues, `${p}/fields`, `no more than ${LIMITS.fields} items allowed`);
          }
          block.fields.forEach((field, j) => {
            textObject(field, `${p}/fields/${j}`, LIMITS.fieldText, issues, { required: true });
          });
        }
      }
      if (block.accessory !== undefined) element(block.accessory, `${p}/accessory`, rules, issues);
      return;
    }
    case 'divider':
      return;
    case 'context': {
      const elements = block.elements;
      if (!Array.isArray(elements) || elements.length === 0) {
        at(issues, `${p}/elements`, 'must provide a non-empty array');
        return;
      }
      if (elements.length > LIMITS.contextElements) {
        at(issues, `${p}/elements`, `no more than ${LIMITS.contextElements} items allowed`);
      }
      elements.forEach((el, j) => {
        const ep = `${p}/elements/${j}`;
        if (isObject(el) && el.type === 'image') imageSource(el, ep, rules, issues);
        else textObject(el, ep, LIMITS.sectionText, issues, { required: true });
      });
      return;
    }
    case 'image':
      imageSource(block, p, rules, issues);
      if (block.title !== undefined) {
        textObject(block.title, `${p}/title`, LIMITS.imageTitle, issues, { plainOnly: true });
      }
      return;
    case 'actions': {
      const elements = block.elements;
      if (!Array.isArray(elements) || elements.length === 0) {
        at(issues, `${p}/elements`, 'must provide a non-empty array');
        return;
      }
      if (elements.length > LIMITS.actionsElements) {
        at(issues, `${p}/elements`, `no more than ${LIMITS.actionsElements} items allowed`);
      }
      const actionIds = new Set<string>();
      elements.forEach((el, j) => {
        element(el, `${p}/elements/${j}`, rules, issues);
        if (isObject(el) && typeof el.action_id === 'string') {
          if (actionIds.has(el.action_id)) {
            at(issues, `${p}/elements/${j}/action_id`, `duplicate action_id ${el.action_id}`);
          }
          actionIds.add(el.action_id);
        }
      });
      return;
    }
    case 'rich_text':
      if (!Array.isArray(block.elements)) at(issues, `${p}/elements`, 'must provide an array');
      return;
  }
}

/** An interactive element or accessory; buttons and images are checked in detail. */
function element(el: unknown, p: string, rules: BlockKitRules, issues: Issues): void {
  if (!isObject(el) || typeof el.type !== 'string') {
    at(issues, p, 'must provide an object with a type');
    return;
  }
  if (el.action_id !== undefined) {
    if (typeof el.action_id !== 'string' || el.action_id.length === 0) {
      at(issues, `${p}/action_id`, 'must be a non-empty string');
    } else if (el.action_id.length > LIMITS.actionId) {
      at(issues, `${p}/action_id`, `must be less than ${LIMITS.actionId + 1} characters`);
    }
  }
  if (el.type === 'image') {
    imageSource(el, p, rules, issues);
    return;
  }
  if (el.type !== 'button') return;
  textObject(el.text, `${p}/text`, LIMITS.buttonText, issues, { plainOnly: true, required: true });
  if (el.value !== undefined) {
    if (typeof el.value !== 'string') at(issues, `${p}/value`, 'must be a string');
    else if (el.value.length > LIMITS.buttonValue) {
      at(issues, `${p}/value`, `must be less than ${LIMITS.buttonValue + 1} characters`);
    }
  }
  if (el.url !== undefined && (typeof el.url !== 'string' || el.url.length > LIMITS.url)) {
    at(issues, `${p}/url`, `must be a string of less than ${LIMITS.url + 1} characters`);
  }
  if (el.style !== undefined && el.style !== 'primary' && el.style !== 'danger') {
    at(issues, `${p}/style`, 'must be one of primary, danger');
  }
}

/** Image block or image element: alt_text, and exactly one of image_url / slack_file. */
function imageSource(img: Record<string, unknown>, p: string, rules: BlockKitRules, issues: Issues): void {
  if (typeof img.alt_text !== 'string' || img.alt_text.length === 0) {
    at(issues, `${p}/alt_text`, 'must provide a non-empty string');
  } else if (img.alt_text.length > LIMITS.altText) {
    at(issues, `${p}/alt_text`, `must be less than ${LIMITS.altText + 1} characters`);
  }
  const hasUrl = img.image_url !== undefined;
  const hasFile = img.slack_file !== undefined;
  if (hasUrl === hasFile) {
    at(issues, p, 'must provide exactly one of image_url or slack_file');
    return;
  }
  if (hasUrl) {
    if (typeof img.image_url !== 'string' || !/^https?:\/\//.test(img.image_url)) {
      at(issues, `${p}/image_url`, 'must be an http(s) URL');
    } else if (img.image_url.length > LIMITS.url) {
      at(issues, `${p}/image_url`, `must be less than ${LIMITS.url + 1} characters`);
    }
    return;
  }
  const file = img.slack_file;
  if (!isObject(file) || (file.id === undefined) === (file.url === undefined)) {
    at(issues, `${p}/slack_file`, 'must provide exactly one of id or url');
    return;
  }
  if (file.id !== undefined && typeof file.id !== 'string') {
    at(issues, `${p}/slack_file/id`, 'must be a string');
    return;
  }
  if (file.url !== undefined && typeof file.url !== 'string') {
    at(issues, `${p}/slack_file/url`, 'must be a string');
    return;
  }
  // A file Slack does not know, or has not finished processing after files.completeUploadExternal,
  // is refused as Slack words it: https://github.com/slackapi/python-slack-sdk/issues/1658 and
  // #1797 ("invalid slack file [json-pointer:/blocks/0/slack_file]"); posted right after a private
  // upload: https://github.com/slackapi/python-slack-sdk/issues/1521,
  // https://github.com/slackapi/java-slack-sdk/issues/1349.
  const ref = file.id !== undefined ? { id: file.id as string } : { url: file.url as string };
  if (!rules.fileUsable(ref)) at(issues, `${p}/slack_file`, 'invalid slack file');
}

function textObject(
  value: unknown,
  p: string,
  max: number,
  issues: Issues,
  opts: { plainOnly?: boolean; required?: boolean },
): void {
  if (value === undefined) {
    if (opts.required) at(issues, p, 'must provide a text object');
    return;
  }
  if (!isObject(value)) {
    at(issues, p, 'must provide an object');
    return;
  }
  if (opts.plainOnly ? value.type !== 'plain_text' : value.type !== 'plain_text' && value.type !== 'mrkdwn') {
    at(issues, `${p}/type`, opts.plainOnly ? 'must be plain_text' : 'must be one of plain_text, mrkdwn');
  }
  if (typeof value.text !== 'string') {
    at(issues, `${p}/text`, 'must provide a string');
  } else if (value.text.length === 0) {
    at(issues, `${p}/text`, 'must be more than 0 characters');
  } else if (value.text.length > max) {
    at(issues, `${p}/text`, `must be less than ${max + 1} characters`);
  }
}
