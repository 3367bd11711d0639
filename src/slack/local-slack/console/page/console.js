import { el, mrkdwnText, renderBlocks, textObject } from './blocks.js';

/**
 * The console page: one channel at a time with its threads, the user's ephemeral answers, and the
 * App Home tab, kept live from the server's event stream. What the person does (a slash command,
 * a button, opening Home) is sent to the console server, which turns it into the signed request
 * Slack would send the bot. The page starts from `GET /console/state` on every (re)connection of
 * the stream, so a reload or a dropped connection shows the same history.
 */

const $ = (id) => document.getElementById(id);
const STORAGE_USER = 'crypto-console-user';
const STORAGE_DISMISSED = 'crypto-console-dismissed';
const ui = {
  /** The state from the server (see routes.ts), kept current by the events. */
  data: undefined,
  user: undefined,
  channel: undefined,
  /** 'channel' or 'home'. */
  view: 'channel',
  /** Root ts of the open thread. */
  thread: undefined,
  /** The channel list stays at its newest message (the user has not scrolled up). */
  follow: true,
  /** A message to show once the state is loaded (?channel=…&message=…, from a permalink). */
  focus: undefined,
  /** Events that arrived while the state was loading. */
  pending: undefined,
  events: undefined,
  dismissed: new Set(JSON.parse(localStorage.getItem(STORAGE_DISMISSED) ?? '[]')),
};

// ---------- small helpers ----------

/** Slack ts order ("seconds.micros", exact). */
function cmpTs(a, b) {
  const [as, af = ''] = a.split('.');
  const [bs, bf = ''] = b.split('.');
  return Number(as) - Number(bs) || Number(af.padEnd(6, '0')) - Number(bf.padEnd(6, '0'));
}

function tsDate(ts) {
  return new Date(Number(ts.split('.')[0]) * 1000);
}

function timeLabel(ts) {
  return tsDate(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function isRoot(m) {
  return m.thread_ts === undefined || m.thread_ts === m.ts;
}

function userById(id) {
  if (id === ui.data?.bot.id) return { id, name: ui.data.bot.name, bot: true };
  return ui.data?.users.find((u) => u.id === id) ?? { id, name: id };
}

function channelById(id) {
  return ui.data?.channels.find((c) => c.id === id);
}

function toast(text) {
  const node = $('toast');
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    node.hidden = true;
  }, 6000);
}

async function postJson(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` }));
  if (!res.ok || !answer.ok) throw new Error(answer.error ?? `HTTP ${res.status}`);
  return answer;
}

// ---------- rendering ----------

function initials(name) {
  const parts = name.split(/[-_ .]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase();
}

/** What blocks need from the page: names and file URLs, and the buttons of this message. */
function blockContext(origin) {
  return {
    userName: (id) => userById(id).name,
    channelName: (id) => channelById(id)?.name ?? id,
    groupName: (id) => id,
    fileUrl: (id) => `/console/files/${encodeURIComponent(id)}`,
    onButton: (button, node) => pressButton(button, node, origin),
    permalink,
    showMessage,
  };
}

/** The message a permalink of this console names (/archives/<channel>/p<ts digits>). */
function permalink(href) {
  const url = new URL(href, location.href);
  const match = /^\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})$/.exec(url.pathname);
  if (url.origin !== location.origin || !match) return undefined;
  return { channel: match[1], ts: url.searchParams.get('thread_ts') ?? `${match[2]}.${match[3]}` };
}

/** Shows a message: its channel, its thread when it has or is in one, scrolled to and marked. */
function showMessage({ channel, ts }) {
  if (!channelById(channel)) return;
  ui.view = 'channel';
  ui.channel = channel;
  const message = channelMessages().find((m) => m.ts === ts);
  const root = message && !isRoot(message) ? message.thread_ts : ts;
  ui.thread = message && (!isRoot(message) || (message.reply_count ?? 0) > 0) ? root : undefined;
  ui.follow = false;
  renderAll();
  const node = $('messages').querySelector(`[data-ts="${CSS.escape(root)}"]`);
  if (node) {
    node.scrollIntoView({ block: 'center' });
    node.classList.add('highlight');
    setTimeout(() => node.classList.remove('highlight'), 2500);
  }
}

function messageContent(m, origin) {
  const ctx = blockContext(origin);
  const parts = [];
  if (Array.isArray(m.blocks) && m.blocks.length > 0) parts.push(renderBlocks(m.blocks, ctx));
  else if (m.text) parts.push(mrkdwnText(m.text, ctx, 'msg-text'));
  for (const file of m.files ?? []) {
    if (!String(file.mimetype).startsWith('image/')) {
      parts.push(el('div', 'msg-file', [`📎 ${file.title ?? file.name}`]));
      continue;
    }
    const figure = el('figure', 'bk-image');
    figure.append(el('figcaption', '', [file.title ?? file.name]));
    const img = el('img', 'bk-image-img');
    img.src = ctx.fileUrl(file.id);
    img.alt = file.alt_txt ?? file.title ?? '';
    img.loading = 'lazy';
    figure.append(img);
    parts.push(figure);
  }
  return parts;
}

/** One message (channel, thread or ephemeral) as Slack shows it. */
function messageNode(m, { channel, ephemeral = false, inThread = false }) {
  const author = ephemeral ? userById(ui.data.bot.id) : userById(m.user);
  const node = el('article', `msg${ephemeral ? ' ephemeral' : ''}`);
  node.dataset.ts = m.ts;
  const avatar = el('div', `avatar${author.bot ? ' bot' : ''}`, [author.bot ? 'CR' : initials(author.name)]);
  avatar.setAttribute('aria-hidden', 'true');
  const time = el('time', 'msg-time', [timeLabel(m.ts)]);
  time.dateTime = tsDate(m.ts).toISOString();
  time.title = tsDate(m.ts).toLocaleString();
  const head = el('div', 'msg-head', [el('span', 'msg-author', [author.name])]);
  if (author.bot) head.append(el('span', 'app-tag', ['APP']));
  head.append(time);
  const body = el('div', 'msg-body', [head]);
  body.append(...messageContent(m, { channel, ts: m.ts, ephemeral }));
  if (m.edited) body.append(el('span', 'msg-edited', ['(edited)']));
  if (ephemeral) {
    const dismiss = el('button', 'link-button', ['Dismiss message']);
    dismiss.type = 'button';
    dismiss.addEventListener('click', () => {
      ui.dismissed.add(m.ts);
      localStorage.setItem(STORAGE_DISMISSED, JSON.stringify([...ui.dismissed].slice(-500)));
      renderAll();
    });
    body.append(el('div', 'ephemeral-note', ['👁 Only visible to you · ', dismiss]));
  }
  if (!inThread && !ephemeral && (m.reply_count ?? 0) > 0) {
    const open = el('button', 'thread-summary', [
      el('span', 'thread-count', [`${m.reply_count} ${m.reply_count === 1 ? 'reply' : 'replies'}`]),
      el('span', 'thread-last', [m.latest_reply ? `Last reply ${timeLabel(m.latest_reply)}` : 'View thread']),
    ]);
    open.type = 'button';
    open.addEventListener('click', () => openThread(m.ts));
    body.append(open);
  }
  node.append(avatar, body);
  return node;
}

/**
 * The node of a message, reused while the message is unchanged: a re-render after a live update
 * keeps loaded images (and so the reader's scroll position) instead of building them again.
 */
const nodeCache = new Map();

function cachedNode(m, options) {
  const key = `${options.inThread ? 't' : 'c'}${options.ephemeral ? 'e' : 'm'}:${options.channel}:${m.ts}`;
  const signature = JSON.stringify(m);
  const hit = nodeCache.get(key);
  if (hit?.signature === signature) return hit.node;
  const node = messageNode(m, options);
  nodeCache.set(key, { signature, node });
  return node;
}

/** Forgets nodes of messages no longer shown (after a switch of user or channel). */
function pruneCache(shown) {
  for (const [key, entry] of nodeCache) if (!shown.has(entry.node)) nodeCache.delete(key);
}

function channelMessages() {
  return ui.data.messages[ui.channel] ?? [];
}

function visibleEphemerals(predicate) {
  return ui.data.ephemerals.filter(
    (e) => e.channel === ui.channel && !ui.dismissed.has(e.ts) && predicate(e),
  );
}

function nearBottom(container) {
  return container.scrollHeight - container.scrollTop - container.clientHeight < 120;
}

/** Keeps the list at its newest message while the user is there, also as images load. */
function followImages(container, follow) {
  for (const img of container.querySelectorAll('img')) {
    if (img.complete) continue;
    img.addEventListener(
      'load',
      () => {
        if (follow()) container.scrollTop = container.scrollHeight;
      },
      { once: true },
    );
  }
}

function renderChannel() {
  const container = $('messages');
  if (container.dataset.channel !== ui.channel) ui.follow = true;
  const stick = ui.follow;
  const items = [
    ...channelMessages()
      .filter(isRoot)
      .map((m) => ({ ts: m.ts, node: () => cachedNode(m, { channel: ui.channel }) })),
    ...visibleEphemerals((e) => !e.thread_ts).map((e) => ({
      ts: e.ts,
      node: () => cachedNode(e, { channel: ui.channel, ephemeral: true }),
    })),
  ].sort((a, b) => cmpTs(a.ts, b.ts));
  const nodes = [];
  const older = ui.data.olderNotShown?.[ui.channel];
  if (older) nodes.push(el('p', 'history-note', [`${older} older messages are not shown.`]));
  if (items.length === 0) {
    nodes.push(
      el('div', 'empty', [
        el('strong', '', ['No messages yet.']),
        el('p', '', [
          'The anomaly feed posts here when the model flags a window (the first round runs right after start). ',
          'Meanwhile, try a command below.',
        ]),
      ]),
    );
  }
  for (const item of items) nodes.push(item.node());
  const top = container.scrollTop;
  const grew =
    container.dataset.channel === ui.channel && items.length > Number(container.dataset.count ?? 0);
  container.replaceChildren(...nodes);
  container.dataset.channel = ui.channel;
  container.dataset.count = String(items.length);
  if (stick) container.scrollTop = container.scrollHeight;
  else container.scrollTop = top;
  followImages(container, () => ui.follow);
  if (stick || nearBottom(container)) $('new-below').hidden = true;
  else if (grew) $('new-below').hidden = false;
}

function renderThread() {
  const pane = $('thread');
  const root = ui.thread && channelMessages().find((m) => m.ts === ui.thread);
  pane.hidden = !root || ui.view !== 'channel';
  if (pane.hidden) return;
  const container = $('thread-messages');
  const stick = nearBottom(container) || container.dataset.root !== ui.thread;
  $('thread-channel').textContent = `#${channelById(ui.channel)?.name ?? ''}`;
  const replies = channelMessages().filter((m) => m.thread_ts === ui.thread && m.ts !== ui.thread);
  const items = [
    ...replies.map((m) => ({
      ts: m.ts,
      node: () => cachedNode(m, { channel: ui.channel, inThread: true }),
    })),
    ...visibleEphemerals((e) => e.thread_ts === ui.thread).map((e) => ({
      ts: e.ts,
      node: () => cachedNode(e, { channel: ui.channel, ephemeral: true, inThread: true }),
    })),
  ].sort((a, b) => cmpTs(a.ts, b.ts));
  const divider = el('div', 'thread-divider', [
    `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`,
  ]);
  container.replaceChildren(
    cachedNode(root, { channel: ui.channel, inThread: true }),
    divider,
    ...items.map((i) => i.node()),
  );
  container.dataset.root = ui.thread;
  if (stick) container.scrollTop = container.scrollHeight;
  followImages(container, () => nearBottom(container));
}

function renderHome() {
  const home = $('home');
  const view = ui.data.home;
  const ctx = blockContext({ channel: undefined, ts: undefined, ephemeral: false, home: true });
  const tabs = el('div', 'home-tabs', [el('span', 'home-tab active', ['Home'])]);
  const body = view
    ? renderBlocks(view.blocks ?? [], ctx)
    : el('p', 'empty', ['Opening the app’s Home tab…']);
  home.replaceChildren(
    el('div', 'home-head', [el('div', 'avatar bot', ['CR']), el('h2', '', [ui.data.bot.name])]),
    tabs,
    body,
  );
}

function renderNav() {
  const list = $('channel-list');
  list.replaceChildren(
    ...ui.data.channels.map((c) => {
      const button = el(
        'button',
        `nav-item${ui.view === 'channel' && c.id === ui.channel ? ' active' : ''}`,
        [el('span', 'nav-icon', ['#']), c.name],
      );
      button.type = 'button';
      button.addEventListener('click', () => {
        ui.view = 'channel';
        ui.channel = c.id;
        ui.thread = undefined;
        closeSidebar();
        renderAll();
      });
      return el('li', '', [button]);
    }),
  );
  $('open-home').classList.toggle('active', ui.view === 'home');
  $('bot-name').textContent = ui.data.bot.name;
  $('team-name').textContent = ui.data.team.domain;

  const select = $('user-select');
  if (select.options.length !== ui.data.users.length) {
    select.replaceChildren(
      ...ui.data.users.map((u) => {
        const option = el('option', '', [u.name]);
        option.value = u.id;
        return option;
      }),
    );
  }
  select.value = ui.user;
  const me = userById(ui.user);
  $('user-groups').textContent = me.groups?.length
    ? `member of ${me.groups.map((g) => `@${g}`).join(', ')}`
    : 'not in any user group';
}

function renderAll() {
  if (!ui.data) return;
  renderNav();
  const home = ui.view === 'home';
  $('title').textContent = home ? `${ui.data.bot.name} · Home` : `#${channelById(ui.channel)?.name ?? ''}`;
  $('messages').hidden = home;
  $('composer').hidden = home;
  $('home').hidden = !home;
  if (home) renderHome();
  else renderChannel();
  renderThread();
  pruneCache(new Set([...$('messages').children, ...$('thread-messages').children]));
}

// ---------- actions ----------

function openThread(ts) {
  ui.thread = ts;
  renderThread();
}

function closeSidebar() {
  $('sidebar').classList.remove('open');
  $('scrim').hidden = true;
}

/** A button press: its confirmation dialog first when it has one, then the click goes to the app. */
async function pressButton(button, node, origin) {
  if (origin.home) {
    toast('Buttons on the Home tab are not wired in the console.');
    return;
  }
  if (button.confirm && !(await confirmDialog(button.confirm))) return;
  node.disabled = true;
  node.classList.add('busy');
  try {
    await postJson('/console/click', {
      user: ui.user,
      channel: origin.channel,
      ts: origin.ts,
      actionId: button.action_id,
      value: button.value ?? '',
      ephemeral: origin.ephemeral,
    });
  } catch (err) {
    toast(err.message);
  } finally {
    node.disabled = false;
    node.classList.remove('busy');
  }
}

function confirmDialog(confirm) {
  const dialog = $('confirm');
  const ctx = blockContext({});
  $('confirm-title').textContent = confirm.title?.text ?? 'Are you sure?';
  $('confirm-text').replaceChildren(textObject(confirm.text, ctx, 'confirm-body'));
  $('confirm-ok').textContent = confirm.confirm?.text ?? 'Yes';
  $('confirm-deny').textContent = confirm.deny?.text ?? 'Cancel';
  $('confirm-ok').className = `bk-button ${confirm.style === 'danger' ? 'danger' : 'primary'}`;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    $('confirm-ok').focus();
  });
}

async function sendCommand(event) {
  event.preventDefault();
  const input = $('command');
  const text = input.value.trim();
  if (!text) return;
  const status = $('composer-status');
  status.className = 'composer-status';
  status.textContent = `Sending ${text.split(/\s+/)[0]}…`;
  try {
    const answer = await postJson('/console/command', { user: ui.user, channel: ui.channel, text });
    input.value = '';
    status.textContent = `${text.length > 60 ? `${text.slice(0, 60)}…` : text} · the app answered in ${answer.ms} ms`;
    const container = $('messages');
    container.scrollTop = container.scrollHeight;
  } catch (err) {
    status.className = 'composer-status error';
    status.textContent = err.message;
  }
}

async function openHome() {
  ui.view = 'home';
  ui.thread = undefined;
  closeSidebar();
  renderAll();
  try {
    await postJson('/console/home', { user: ui.user });
  } catch (err) {
    toast(err.message);
  }
}

// ---------- state and live events ----------

function upsert(list, item) {
  const at = list.findIndex((m) => m.ts === item.ts);
  if (at >= 0) list[at] = item;
  else {
    list.push(item);
    list.sort((a, b) => cmpTs(a.ts, b.ts));
  }
}

function apply(name, data) {
  if (!ui.data) return;
  switch (name) {
    case 'message': {
      const list = ui.data.messages[data.channel];
      if (!list) return;
      upsert(list, data.message);
      break;
    }
    case 'message_deleted': {
      const list = ui.data.messages[data.channel];
      if (list) ui.data.messages[data.channel] = list.filter((m) => m.ts !== data.ts);
      break;
    }
    case 'ephemeral':
      upsert(ui.data.ephemerals, data.message);
      break;
    case 'ephemeral_deleted':
      ui.data.ephemerals = ui.data.ephemerals.filter((e) => e.ts !== data.ts);
      break;
    case 'home':
      ui.data.home = data.view;
      break;
    default:
      return;
  }
  renderAll();
}

async function loadState() {
  const requested = ui.user;
  ui.pending = [];
  const res = await fetch(`/console/state?user=${encodeURIComponent(requested)}`);
  const data = await res.json();
  if (!res.ok || !data.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  // Another user was chosen meanwhile: that user's own load follows.
  if (ui.user !== requested) return;
  if (data.user !== requested) {
    // The user asked for is not in this workspace: show its first user instead.
    chooseUser(data.user);
    return;
  }
  ui.data = data;
  if (!channelById(ui.channel)) ui.channel = data.channels[0]?.id;
  const queued = ui.pending;
  ui.pending = undefined;
  for (const [name, payload] of queued) apply(name, payload);
  renderAll();
  if (ui.focus) {
    showMessage(ui.focus);
    ui.focus = undefined;
    const url = new URL(location.href);
    url.searchParams.delete('channel');
    url.searchParams.delete('message');
    history.replaceState(null, '', url);
  }
}

function setConnection(state, text) {
  const node = $('conn');
  node.dataset.state = state;
  node.textContent = text;
}

function connect() {
  ui.events?.close();
  setConnection('connecting', 'connecting…');
  const events = new EventSource(`/console/events?user=${encodeURIComponent(ui.user)}`);
  ui.events = events;
  events.addEventListener('open', () => {
    loadState().then(
      () => setConnection('live', 'live'),
      (err) => setConnection('down', `could not load: ${err.message}`),
    );
  });
  events.addEventListener('error', () => setConnection('down', 'reconnecting…'));
  for (const name of ['message', 'message_deleted', 'ephemeral', 'ephemeral_deleted', 'home']) {
    events.addEventListener(name, (event) => {
      const payload = JSON.parse(event.data);
      if (ui.pending) ui.pending.push([name, payload]);
      else apply(name, payload);
    });
  }
}

function chooseUser(id) {
  ui.user = id;
  localStorage.setItem(STORAGE_USER, id);
  const url = new URL(location.href);
  url.searchParams.set('user', id);
  history.replaceState(null, '', url);
  ui.data = undefined;
  connect();
  if (ui.view === 'home') void openHome();
}

// ---------- start ----------

$('composer').addEventListener('submit', sendCommand);
$('open-home').addEventListener('click', openHome);
$('close-thread').addEventListener('click', () => {
  ui.thread = undefined;
  renderThread();
});
$('user-select').addEventListener('change', (event) => chooseUser(event.target.value));
$('menu').addEventListener('click', () => {
  $('sidebar').classList.add('open');
  $('scrim').hidden = false;
});
$('scrim').addEventListener('click', closeSidebar);
$('new-below').addEventListener('click', () => {
  const container = $('messages');
  container.scrollTop = container.scrollHeight;
  $('new-below').hidden = true;
});
$('messages').addEventListener('scroll', () => {
  ui.follow = nearBottom($('messages'));
  if (ui.follow) $('new-below').hidden = true;
});
/** The chips under the composer: the app's example commands, as the server has them. */
async function loadExamples() {
  const res = await fetch('/console/commands');
  const data = await res.json();
  if (!res.ok || !data.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  $('chips').replaceChildren(
    ...data.examples.map((text) => {
      const chip = el('button', 'chip', [text]);
      chip.type = 'button';
      chip.addEventListener('click', () => {
        const input = $('command');
        input.value = text;
        input.focus();
      });
      return chip;
    }),
  );
}
// Without them the page still works: commands are typed.
loadExamples().catch((err) => toast(`The example commands could not be loaded (${err.message}).`));

const params = new URLSearchParams(location.search);
if (params.get('channel') && params.get('message')) {
  ui.focus = { channel: params.get('channel'), ts: params.get('message') };
  ui.channel = ui.focus.channel;
}
chooseUser(params.get('user') ?? localStorage.getItem(STORAGE_USER) ?? '');
