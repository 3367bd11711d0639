import { describe, expect, it } from 'vitest';

/** The console page's mrkdwn parser is browser JavaScript; it is pure, so it runs here as it is. */
const page = new URL('../../src/slack/local-slack/console/page/mrkdwn.js', import.meta.url).href;
const { parseMrkdwn } = (await import(page)) as { parseMrkdwn: (text: string) => unknown[] };

const text = (v: string) => ({ t: 'text', v });

describe('mrkdwn in the console', () => {
  it('formats bold, italic, strike and code, and undoes only Slack’s three escapes', () => {
    expect(parseMrkdwn('*Bitcoin* fell _fast_, ~not~ `a<b` &lt;i&gt; &amp;amp; &quot;')).toEqual([
      { t: 'b', c: [text('Bitcoin')] },
      text(' fell '),
      { t: 'i', c: [text('fast')] },
      text(', '),
      { t: 's', c: [text('not')] },
      text(' '),
      { t: 'code', v: 'a<b' },
      text(' <i> &amp; &quot;'),
    ]);
  });

  it('leaves markers inside words and unclosed ones as they are', () => {
    expect(parseMrkdwn('2*3*4 snake_case_name *open and 5 * 6 * 7')).toEqual([
      text('2*3*4 snake_case_name *open and 5 * 6 * 7'),
    ]);
  });

  it('turns links, mentions, channels, groups and broadcasts into nodes, never HTML', () => {
    expect(
      parseMrkdwn(
        '<https://x.test/a?b=1&amp;c=2|the *docs*> <@U0OPS01> <#C0CRYPTO1|crypto-alerts> <!subteam^S0CRYPTOOPS|@crypto-ops> <!here> <javascript:alert(1)|click>',
      ),
    ).toEqual([
      { t: 'link', href: 'https://x.test/a?b=1&c=2', c: [text('the '), { t: 'b', c: [text('docs')] }] },
      text(' '),
      { t: 'user', id: 'U0OPS01' },
      text(' '),
      { t: 'channel', id: 'C0CRYPTO1', name: 'crypto-alerts' },
      text(' '),
      { t: 'group', id: 'S0CRYPTOOPS', name: '@crypto-ops' },
      text(' '),
      { t: 'broadcast', v: 'here' },
      text(' '),
      text('click'),
    ]);
  });

  it('keeps preformatted blocks whole (no formatting inside), with quotes and line breaks around them', () => {
    expect(parseMrkdwn('Leaderboard\n```asset  *score*\nbtc    -0.1```\n> from _v2_\nend')).toEqual([
      text('Leaderboard'),
      { t: 'pre', v: 'asset  *score*\nbtc    -0.1' },
      { t: 'quote', c: [text('from '), { t: 'i', c: [text('v2')] }] },
      text('end'),
    ]);
  });

  it('shows emoji short codes as characters, unknown ones as written', () => {
    expect(parseMrkdwn(':warning: *SIMULATED* :not_an_emoji:')).toEqual([
      text('⚠️ '),
      { t: 'b', c: [text('SIMULATED')] },
      text(' :not_an_emoji:'),
    ]);
  });
});
