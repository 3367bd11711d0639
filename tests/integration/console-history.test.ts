import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { type LocalSlack, startLocalSlack } from '../../src/slack/local-slack/index.js';
import { until } from '../support/until.js';

/**
 * The console's saved history is bounded (CONSOLE_HISTORY_MESSAGES): the oldest threads go, each
 * with its replies and the files only it showed, from the page, the Web API and the state folder.
 * Driven through the console's Slack as the bot reaches it (its Web API) and as the page reads it
 * (`/console/state`), with the state folder read back from disk.
 */

const CHANNEL = 'C0CRYPTO1';
const OPS = 'U0OPS01';
const TOKEN = 'xoxb-history';

let dir: string;
let slack: LocalSlack | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crm-console-history-'));
});
afterEach(async () => {
  await slack?.close();
  slack = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** The console's Slack with a state folder; posting unthrottled so a test fills a history quickly. */
async function start(historyMessages?: number) {
  slack = await startLocalSlack({
    signingSecret: 's',
    botToken: TOKEN,
    stateDir: join(dir, 'console'),
    postsPerSecond: 10_000,
    postBurst: 10_000,
    ...(historyMessages !== undefined ? { historyMessages } : {}),
  });
  return { slack, client: new WebClient(TOKEN, { slackApiUrl: slack.apiUrl }) };
}

async function pageTexts(base: string): Promise<string[]> {
  const res = await fetch(`${base}/console/state?user=${OPS}`);
  const body = (await res.json()) as { messages: Record<string, Array<{ text: string }>> };
  return (body.messages[CHANNEL] ?? []).map((m) => m.text);
}

async function historyTexts(client: WebClient): Promise<string[]> {
  const page = await client.conversations.history({ channel: CHANNEL, limit: 100 });
  return (page.messages ?? []).map((m) => m.text ?? '').reverse();
}

async function savedTexts(): Promise<string[]> {
  const saved = JSON.parse(await readFile(join(dir, 'console', 'workspace.json'), 'utf8')) as {
    messages: Record<string, Array<{ text: string }>>;
  };
  return (saved.messages[CHANNEL] ?? []).map((m) => m.text);
}

/** Uploads a PNG privately (as the bot's charts are) and waits until a block may show it. */
async function uploadChart(client: WebClient, name: string): Promise<string> {
  const bytes = Buffer.from(`\x89PNG\r\n\x1a\n${name}`);
  const upload = (await client.filesUploadV2({ file: bytes, filename: `${name}.png` })) as {
    files: Array<{ files: Array<{ id: string }> }>;
  };
  const id = upload.files[0]?.files[0]?.id as string;
  await until(async () => (await client.files.info({ file: id })).file?.mimetype);
  return id;
}

const chartBlock = (id: string) => [{ type: 'image', slack_file: { id }, alt_text: 'a chart' }];

describe('the console history bound (CONSOLE_HISTORY_MESSAGES)', () => {
  it('is a setting of the console: 1,000 messages by default, 10 to 100,000', () => {
    const load = (env: Record<string, string>) => loadConfig({ env: { DATA_DIR: dir, ...env }, cwd: dir });
    expect(load({}).console?.historyMessages).toBe(1000);
    expect(load({ CONSOLE_HISTORY_MESSAGES: '50' }).console?.historyMessages).toBe(50);
    for (const bad of ['9', '100001', '1.5', 'many']) {
      expect(() => load({ CONSOLE_HISTORY_MESSAGES: bad })).toThrow(ConfigError);
    }
    let problems: string[] = [];
    try {
      load({ CONSOLE_HISTORY_MESSAGES: '0' });
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      'CONSOLE_HISTORY_MESSAGES: must be a whole number of messages from 10 to 100000',
    ]);
  });

  it('prunes the oldest threads with their replies and files, on the page, in the Web API and on disk', async () => {
    const { slack: local, client } = await start(10);
    const oldChart = await uploadChart(client, 'old');
    const first = await client.chat.postMessage({
      channel: CHANNEL,
      text: 'm0',
      blocks: chartBlock(oldChart),
    });
    await client.chat.postMessage({ channel: CHANNEL, thread_ts: first.ts as string, text: 'm0 reply' });
    const shared = (await client.filesUploadV2({
      file: Buffer.from('shared in the channel'),
      filename: 'm1.txt',
      channel_id: CHANNEL,
    })) as { files: Array<{ files: Array<{ id: string }> }> };
    const sharedFile = shared.files[0]?.files[0]?.id as string;
    const keptChart = await uploadChart(client, 'kept');
    for (let i = 2; i < 10; i++) {
      await client.chat.postMessage({
        channel: CHANNEL,
        text: `m${i}`,
        ...(i === 9 ? { blocks: chartBlock(keptChart) } : {}),
      });
    }
    // m0, its reply, the file share (no text) and m2 … m9 are 11: the first thread went, reply too
    expect(await pageTexts(local.baseUrl)).toEqual(['', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    expect((await client.files.info({ file: sharedFile })).file?.id).toBe(sharedFile);

    // two more make 11 again: the file share goes, and with it the file it shared
    await client.chat.postMessage({ channel: CHANNEL, text: 'm10' });
    await client.chat.postMessage({ channel: CHANNEL, text: 'm11' });
    const texts = await pageTexts(local.baseUrl);
    expect(texts).toEqual(['m2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10', 'm11']);
    expect(await historyTexts(client)).toEqual(texts);
    await expect(client.files.info({ file: oldChart })).rejects.toMatchObject({
      data: { error: 'file_not_found' },
    });
    await expect(client.files.info({ file: sharedFile })).rejects.toMatchObject({
      data: { error: 'file_not_found' },
    });
    expect((await client.files.info({ file: keptChart })).file?.id).toBe(keptChart);

    // on disk, once saved: the same messages, and the pruned files' bytes are gone
    await until(async () => JSON.stringify(await savedTexts()) === JSON.stringify(texts));
    await until(async () => !existsSync(join(dir, 'console', 'files', oldChart)));
    expect((await readdir(join(dir, 'console', 'files'))).sort()).toEqual([keptChart]);
  });

  it('never prunes the thread being answered, and a reply counts towards the bound', async () => {
    const { slack: local, client } = await start(10);
    const root = await client.chat.postMessage({ channel: CHANNEL, text: 'root' });
    for (let i = 0; i < 12; i++) {
      await client.chat.postMessage({ channel: CHANNEL, thread_ts: root.ts as string, text: `r${i}` });
    }
    // the only thread is the newest: it stays whole, beyond the bound
    expect(await pageTexts(local.baseUrl)).toHaveLength(13);
    await client.chat.postMessage({ channel: CHANNEL, text: 'next' });
    // a new thread is the newest one: the long thread goes, parent and replies together
    expect(await pageTexts(local.baseUrl)).toEqual(['next']);
    await expect(
      client.chat.postMessage({ channel: CHANNEL, thread_ts: root.ts as string, text: 'late reply' }),
    ).rejects.toMatchObject({ data: { error: 'thread_not_found' } });
  });

  it('keeps an old thread that gets a new reply, and prunes the threads after it instead', async () => {
    const { slack: local, client } = await start(10);
    const old = await client.chat.postMessage({ channel: CHANNEL, text: 'old' });
    for (let i = 0; i < 9; i++) await client.chat.postMessage({ channel: CHANNEL, text: `m${i}` });
    await client.chat.postMessage({ channel: CHANNEL, thread_ts: old.ts as string, text: 'old, answered' });
    // 11 messages: the oldest thread is the one just answered, so the next oldest goes (messages
    // are listed in the order they were posted)
    expect(await pageTexts(local.baseUrl)).toEqual([
      'old',
      ...Array.from({ length: 8 }, (_, i) => `m${i + 1}`),
      'old, answered',
    ]);
  });

  it('prunes a history saved under a larger bound when the console starts with a smaller one', async () => {
    const first = await start();
    for (let i = 0; i < 30; i++) await first.client.chat.postMessage({ channel: CHANNEL, text: `m${i}` });
    await first.slack.close();
    slack = undefined;
    expect(await savedTexts()).toHaveLength(30);

    const { slack: local } = await start(12);
    const expected = Array.from({ length: 12 }, (_, i) => `m${i + 18}`);
    expect(await pageTexts(local.baseUrl)).toEqual(expected);
    // written back shorter without waiting for a new message
    await until(async () => (await savedTexts()).length === 12);
    expect(await savedTexts()).toEqual(expected);
  });
});
