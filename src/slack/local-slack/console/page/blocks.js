import { emojify, parseMrkdwn } from './mrkdwn.js';

/**
 * Block Kit to DOM, the way Slack lays it out: header, section (text, two-column fields, an image
 * or button accessory), context, image (from a Slack file or a URL), divider, actions (buttons,
 * with their confirmation dialogs handled by the caller) and rich_text. Text is always set as text
 * nodes, never parsed as HTML. A block the console does not know is named, not dropped silently.
 *
 * ctx: { userName(id), channelName(id), groupName(id), fileUrl(id), onButton(button, element),
 *        permalink(href) → { channel, ts } | undefined, showMessage({ channel, ts }) }
 */

/** An element with a class and children (nodes or strings, set as text). */
export function el(tag, className, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const child of children) node.append(child);
  return node;
}

/** DOM nodes of parsed mrkdwn. */
function mrkdwnDom(nodes, ctx) {
  return nodes.map((n) => {
    switch (n.t) {
      case 'text':
        return document.createTextNode(n.v);
      case 'br':
        return document.createElement('br');
      case 'b':
        return el('strong', '', mrkdwnDom(n.c, ctx));
      case 'i':
        return el('em', '', mrkdwnDom(n.c, ctx));
      case 's':
        return el('s', '', mrkdwnDom(n.c, ctx));
      case 'code':
        return el('code', 'md-code', [n.v]);
      case 'pre':
        return el('pre', 'md-pre', [n.v]);
      case 'quote':
        return el('blockquote', 'md-quote', mrkdwnDom(n.c, ctx));
      case 'link': {
        const a = el('a', 'md-link', mrkdwnDom(n.c, ctx));
        a.href = n.href;
        const message = ctx.permalink?.(n.href);
        if (message) {
          // A link to a message of this workspace opens it here.
          a.addEventListener('click', (event) => {
            event.preventDefault();
            ctx.showMessage(message);
          });
        } else {
          a.target = '_blank';
          a.rel = 'noopener noreferrer';
        }
        return a;
      }
      case 'user':
        return el('span', 'md-mention', [`@${ctx.userName(n.id)}`]);
      case 'channel':
        return el('span', 'md-mention', [`#${n.name ?? ctx.channelName(n.id)}`]);
      case 'group':
        return el('span', 'md-mention', [n.name ?? `@${ctx.groupName(n.id)}`]);
      case 'broadcast':
        return el('span', 'md-mention md-broadcast', [`@${n.v}`]);
      default:
        return document.createTextNode('');
    }
  });
}

/** A text object (mrkdwn or plain_text) as DOM. */
export function textObject(obj, ctx, className = '') {
  const node = el('div', className);
  if (!obj || typeof obj.text !== 'string') return node;
  if (obj.type === 'mrkdwn') node.append(...mrkdwnDom(parseMrkdwn(obj.text), ctx));
  else node.append(emojify(obj.text));
  return node;
}

/** Message text (no blocks) as DOM. */
export function mrkdwnText(text, ctx, className = '') {
  return textObject({ type: 'mrkdwn', text }, ctx, className);
}

/** The console URL of a Slack file reference (`slack_file: { id }` or `{ url }`), or an image URL. */
function imageSource(element, ctx) {
  const file = element.slack_file;
  if (file?.id) return ctx.fileUrl(file.id);
  if (file?.url) {
    const id = /\/files-pri\/[^/-]+-([A-Z0-9]+)/.exec(file.url)?.[1];
    return id ? ctx.fileUrl(id) : file.url;
  }
  return element.image_url ?? '';
}

function image(element, ctx, className) {
  const img = el('img', className);
  img.alt = element.alt_text ?? '';
  img.loading = 'lazy';
  img.decoding = 'async';
  img.src = imageSource(element, ctx);
  return img;
}

function button(element, ctx) {
  const text = emojify(element.text?.text ?? 'Button');
  if (element.url) {
    const a = el('a', `bk-button ${element.style ?? ''}`.trim(), [text]);
    a.href = element.url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }
  const node = el('button', `bk-button ${element.style ?? ''}`.trim(), [text]);
  node.type = 'button';
  node.dataset.actionId = element.action_id ?? '';
  node.addEventListener('click', () => ctx.onButton(element, node));
  return node;
}

function element(item, ctx) {
  switch (item?.type) {
    case 'button':
      return button(item, ctx);
    case 'image':
      return image(item, ctx, 'bk-context-image');
    case 'mrkdwn':
    case 'plain_text':
      return textObject(item, ctx, 'bk-context-text');
    default:
      return el('span', 'bk-unsupported', [`(${item?.type ?? 'unknown'} element not shown in the console)`]);
  }
}

function richText(block, ctx) {
  const node = el('div', 'bk-rich-text');
  const inlineParts = (elements = []) =>
    elements.map((e) => {
      if (e.type === 'text') {
        const style = e.style ?? {};
        let out = document.createTextNode(e.text ?? '');
        if (style.code) out = el('code', 'md-code', [out]);
        if (style.bold) out = el('strong', '', [out]);
        if (style.italic) out = el('em', '', [out]);
        if (style.strike) out = el('s', '', [out]);
        return out;
      }
      if (e.type === 'link') {
        const a = el('a', 'md-link', [e.text ?? e.url]);
        a.href = e.url;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        return a;
      }
      if (e.type === 'user') return el('span', 'md-mention', [`@${ctx.userName(e.user_id)}`]);
      if (e.type === 'channel') return el('span', 'md-mention', [`#${ctx.channelName(e.channel_id)}`]);
      if (e.type === 'emoji') return document.createTextNode(emojify(`:${e.name}:`));
      return document.createTextNode('');
    });
  for (const part of block.elements ?? []) {
    if (part.type === 'rich_text_section') node.append(el('div', '', inlineParts(part.elements)));
    else if (part.type === 'rich_text_preformatted')
      node.append(el('pre', 'md-pre', inlineParts(part.elements)));
    else if (part.type === 'rich_text_quote')
      node.append(el('blockquote', 'md-quote', inlineParts(part.elements)));
    else if (part.type === 'rich_text_list') {
      const list = el(part.style === 'ordered' ? 'ol' : 'ul', 'bk-list');
      for (const item of part.elements ?? []) list.append(el('li', '', inlineParts(item.elements)));
      node.append(list);
    }
  }
  return node;
}

function block(b, ctx) {
  switch (b.type) {
    case 'header':
      return el('div', 'bk-header', [emojify(b.text?.text ?? '')]);
    case 'section': {
      const node = el('div', 'bk-section');
      const body = el('div', 'bk-section-body');
      if (b.text) body.append(textObject(b.text, ctx, 'bk-text'));
      if (Array.isArray(b.fields) && b.fields.length > 0) {
        body.append(
          el(
            'div',
            'bk-fields',
            b.fields.map((f) => textObject(f, ctx, 'bk-field')),
          ),
        );
      }
      node.append(body);
      if (b.accessory) {
        node.append(
          b.accessory.type === 'image'
            ? image(b.accessory, ctx, 'bk-accessory-image')
            : el('div', 'bk-accessory', [element(b.accessory, ctx)]),
        );
      }
      return node;
    }
    case 'divider':
      return el('hr', 'bk-divider');
    case 'context':
      return el(
        'div',
        'bk-context',
        (b.elements ?? []).map((e) => element(e, ctx)),
      );
    case 'image': {
      const figure = el('figure', 'bk-image');
      if (b.title?.text) figure.append(el('figcaption', '', [emojify(b.title.text)]));
      figure.append(image(b, ctx, 'bk-image-img'));
      return figure;
    }
    case 'actions':
      return el(
        'div',
        'bk-actions',
        (b.elements ?? []).map((e) => element(e, ctx)),
      );
    case 'rich_text':
      return richText(b, ctx);
    default:
      return el('div', 'bk-unsupported', [`(a ${b.type} block, not shown in the console)`]);
  }
}

/** The blocks of a message or view, in a container. */
export function renderBlocks(blocks, ctx) {
  return el(
    'div',
    'bk-blocks',
    blocks.map((b) => {
      const node = block(b, ctx);
      if (b.block_id) node.dataset.blockId = b.block_id;
      return node;
    }),
  );
}
