/**
 * Slack's mrkdwn, parsed into a small tree the page turns into DOM nodes (never into HTML strings).
 *
 * What it knows, as Slack formats it: ```preformatted``` blocks, `code`, *bold*, _italic_,
 * ~strike~ (a marker opens after a space or punctuation and closes before one), `>` quotes at the
 * start of a line, `<https://…|label>` links, `<@U…>` users, `<#C…|name>` channels,
 * `<!here>`-style broadcasts, `<!subteam^S…|@handle>` groups, `<!date^…|fallback>` dates,
 * `:emoji:` short codes, and the three escapes Slack uses (&amp; &lt; &gt;).
 *
 * Nodes: { t: 'text', v } { t: 'b'|'i'|'s'|'quote', c: [nodes] } { t: 'code'|'pre', v }
 * { t: 'link', href, c } { t: 'user', id } { t: 'channel', id, name } { t: 'broadcast', v }
 * { t: 'group', id, name } { t: 'br' }
 */

const EMOJI = {
  warning: '⚠️',
  rotating_light: '🚨',
  white_check_mark: '✅',
  heavy_check_mark: '✔️',
  x: '❌',
  scissors: '✂️',
  chart_with_upwards_trend: '📈',
  chart_with_downwards_trend: '📉',
  bar_chart: '📊',
  hourglass_flowing_sand: '⏳',
  gear: '⚙️',
  repeat: '🔁',
  information_source: 'ℹ️',
  bell: '🔔',
  fire: '🔥',
  eyes: '👀',
  tada: '🎉',
  red_circle: '🔴',
  large_green_circle: '🟢',
  large_yellow_circle: '🟡',
  large_orange_circle: '🟠',
  arrow_up: '⬆️',
  arrow_down: '⬇️',
  point_right: '👉',
  robot_face: '🤖',
  moneybag: '💰',
  zap: '⚡',
};

const STYLES = { '*': 'b', _: 'i', '~': 's' };

/** Slack's three escapes, undone (anything else stays as written). */
export function unescapeEntities(text) {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function isBoundary(ch) {
  return ch === undefined || /[\s.,;:!?()[\]{}"'/\\-]/.test(ch);
}

/** :emoji: short codes as the characters (unknown ones stay as written). */
export function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] ?? all);
}

/** A text node with :emoji: codes replaced. */
function textNodes(raw) {
  const text = emojify(unescapeEntities(raw));
  return text === '' ? [] : [{ t: 'text', v: text }];
}

/** The node of one `<…>` span. */
function angle(inner) {
  const bar = inner.indexOf('|');
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? undefined : inner.slice(bar + 1);
  if (target.startsWith('@')) return { t: 'user', id: target.slice(1) };
  if (target.startsWith('#')) return { t: 'channel', id: target.slice(1), name: label };
  if (target.startsWith('!subteam^')) return { t: 'group', id: target.slice(9), name: label };
  if (target.startsWith('!date^')) return { t: 'text', v: unescapeEntities(label ?? target) };
  if (target.startsWith('!')) return { t: 'broadcast', v: target.slice(1) };
  const href = unescapeEntities(target);
  if (/^(https?:|mailto:)/i.test(href)) {
    return { t: 'link', href, c: label === undefined ? [{ t: 'text', v: href }] : inline(label) };
  }
  return { t: 'text', v: unescapeEntities(label ?? target) };
}

/** Where a style opened at `start` closes, or -1. */
function closing(text, start, marker) {
  if (text[start + 1] === undefined || /\s/.test(text[start + 1])) return -1;
  for (let i = start + 2; i < text.length; i++) {
    if (text[i] === '\n') return -1;
    if (text[i] === marker && !/\s/.test(text[i - 1]) && isBoundary(text[i + 1])) return i;
  }
  return -1;
}

/** Inline formatting of one line (no newlines inside). */
export function inline(text) {
  const out = [];
  let plain = '';
  const flush = () => {
    out.push(...textNodes(plain));
    plain = '';
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i + 1) {
        flush();
        out.push({ t: 'code', v: unescapeEntities(text.slice(i + 1, end)) });
        i = end + 1;
        continue;
      }
    } else if (ch === '<') {
      const end = text.indexOf('>', i + 1);
      if (end > i + 1) {
        flush();
        out.push(angle(text.slice(i + 1, end)));
        i = end + 1;
        continue;
      }
    } else if (ch in STYLES && isBoundary(text[i - 1])) {
      const end = closing(text, i, ch);
      if (end > 0) {
        flush();
        out.push({ t: STYLES[ch], c: inline(text.slice(i + 1, end)) });
        i = end + 1;
        continue;
      }
    }
    plain += ch;
    i += 1;
  }
  flush();
  return out;
}

/** Lines with quotes and line breaks. */
function lines(text) {
  const out = [];
  const list = text.split('\n');
  list.forEach((line, n) => {
    const quote = /^(&gt;|>) ?(.*)$/.exec(line);
    if (quote) out.push({ t: 'quote', c: inline(quote[2]) });
    else {
      out.push(...inline(line));
      if (n < list.length - 1) out.push({ t: 'br' });
    }
  });
  return out;
}

export function parseMrkdwn(text) {
  const source = String(text ?? '');
  const out = [];
  const pre = /```([\s\S]*?)```/g;
  let last = 0;
  for (let match = pre.exec(source); match; match = pre.exec(source)) {
    // A preformatted block is a block of its own: the line breaks around it are not kept.
    out.push(...lines(source.slice(last, match.index).replace(/\n$/, '')));
    out.push({ t: 'pre', v: unescapeEntities(match[1].replace(/^\n/, '').replace(/\n$/, '')) });
    last = match.index + match[0].length;
    if (source[last] === '\n') last += 1;
  }
  out.push(...lines(source.slice(last)));
  return out;
}
