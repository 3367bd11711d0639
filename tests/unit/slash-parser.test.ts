import { describe, expect, it } from 'vitest';
import { commandNames, commands, parseSlashText } from '../../src/commands/registry.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

const usage = (problem: string) => ({ name: 'usage', problem });

describe('the /crypto grammar', () => {
  it('answers nothing, blanks and `help` (whatever follows it) with the usage', () => {
    for (const text of ['', '   ', '\t\n', 'help', 'HELP', '  Help  ', 'help me please']) {
      expect(parseSlashText(text), JSON.stringify(text)).toEqual({ name: 'help', args: {} });
    }
  });

  it('takes `top` slots in any order, with N 10 and 24 h when left out', () => {
    expect(parseSlashText('top')).toEqual({ name: 'top', args: { limit: 10, since: DAY } });
    const full = { name: 'top', args: { limit: 10, since: DAY, asset: 'bitcoin' } };
    for (const text of [
      'top 10 24h bitcoin',
      'top 10 bitcoin 24h',
      'top 24h 10 bitcoin',
      'top 24h bitcoin 10',
      'top bitcoin 10 24h',
      'top bitcoin 24h 10',
      'TOP 10 24H bitcoin',
      '  top   10\t24h \n bitcoin  ',
    ]) {
      expect(parseSlashText(text), text).toEqual(full);
    }
    expect(parseSlashText('top 5 7d')).toEqual({ name: 'top', args: { limit: 5, since: 7 * DAY } });
    expect(parseSlashText('top 90m')).toEqual({ name: 'top', args: { limit: 10, since: 1.5 * HOUR } });
    expect(parseSlashText('top 2w solana')).toEqual({
      name: 'top',
      args: { limit: 10, since: 14 * DAY, asset: 'solana' },
    });
  });

  it('refuses a `top` slot given twice, naming it', () => {
    expect(parseSlashText('top 5 6')).toEqual(usage('`top` got two values for N.'));
    expect(parseSlashText('top 7d 24h')).toEqual(usage('`top` got two values for since.'));
    expect(parseSlashText('top bitcoin ethereum')).toEqual(usage('`top` got two values for asset.'));
  });

  it('refuses `top` values out of range, with what they must be', () => {
    for (const n of ['0', '501', '99999']) {
      expect(parseSlashText(`top ${n}`)).toEqual(usage('N must be a whole number from 1 to 500'));
    }
    expect(parseSlashText('top 7x')).toEqual(usage('The period must be a duration like 90m, 24h, 7d or 2w.'));
    expect(parseSlashText('top 91d')).toEqual(usage('The period must be a duration from 1m to 90d.'));
    expect(parseSlashText('top 0m')).toEqual(usage('The period must be a duration from 1m to 90d.'));
    for (const asset of ['Bitcoin', '<!channel>', 'bit;coin', '-bitcoin']) {
      expect(parseSlashText(`top ${asset}`), asset).toEqual(
        usage('The asset must be a CoinGecko id such as bitcoin or ethereum.'),
      );
    }
  });

  it('takes `chart` as an asset, then an optional period (24 h when left out)', () => {
    expect(parseSlashText('chart bitcoin')).toEqual({
      name: 'chart',
      args: { asset: 'bitcoin', since: DAY },
    });
    expect(parseSlashText('Chart  bitcoin  7D')).toEqual({
      name: 'chart',
      args: { asset: 'bitcoin', since: 7 * DAY },
    });
    const needsAsset = usage('`chart` needs an asset, e.g. `/crypto chart bitcoin 24h`.');
    expect(parseSlashText('chart')).toEqual(needsAsset);
    expect(parseSlashText('chart bitcoin 7d extra')).toEqual(needsAsset);
    expect(parseSlashText('chart bitcoin 7x')).toEqual(
      usage('The period must be a duration like 90m, 24h, 7d or 2w.'),
    );
    expect(parseSlashText('chart Bitcoin')).toEqual(
      usage('The asset must be a CoinGecko id such as bitcoin or ethereum.'),
    );
    // The asset comes first: `7d bitcoin` asks for the asset `7d` over the period `bitcoin`.
    expect(parseSlashText('chart 7d bitcoin')).toEqual(
      usage('The period must be a duration like 90m, 24h, 7d or 2w.'),
    );
  });

  it('takes `status` and `retrain` without arguments only', () => {
    expect(parseSlashText('status')).toEqual({ name: 'status', args: {} });
    expect(parseSlashText(' STATUS ')).toEqual({ name: 'status', args: {} });
    expect(parseSlashText('status now')).toEqual(usage('`status` takes no arguments.'));
    expect(parseSlashText('retrain')).toEqual({ name: 'retrain', args: {} });
    expect(parseSlashText('retrain please')).toEqual(usage('`retrain` takes no arguments.'));
  });

  it('takes `provision` as a plan, or `apply`', () => {
    expect(parseSlashText('provision')).toEqual({ name: 'provision', args: { apply: false } });
    expect(parseSlashText('provision apply')).toEqual({ name: 'provision', args: { apply: true } });
    expect(parseSlashText('PROVISION Apply')).toEqual({ name: 'provision', args: { apply: true } });
    const wrong = usage('`provision` takes nothing (a plan) or `apply`.');
    expect(parseSlashText('provision plan')).toEqual(wrong);
    expect(parseSlashText('provision apply apply')).toEqual(wrong);
  });

  it('answers an unknown name with the usage, the name cut to 40 characters', () => {
    expect(parseSlashText('tops')).toEqual(usage('`tops` is not a command I know.'));
    expect(parseSlashText('Tops 5')).toEqual(usage('`Tops` is not a command I know.'));
    // Names of the registry object's prototype, and the request kind for a usage answer, are no commands.
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'usage']) {
      expect(parseSlashText(name), name).toEqual(usage(`\`${name}\` is not a command I know.`));
    }
    const long = 'x'.repeat(60);
    expect(parseSlashText(long)).toEqual(usage(`\`${'x'.repeat(40)}\` is not a command I know.`));
  });

  it('refuses texts over 200 characters before reading them', () => {
    const padded = `top 5${' '.repeat(195)}`;
    expect(padded).toHaveLength(200);
    expect(parseSlashText(padded)).toEqual({ name: 'top', args: { limit: 5, since: DAY } });
    expect(parseSlashText(`${padded} `)).toEqual(usage('That is too long for a command (201 characters).'));
    expect(parseSlashText(`help ${'x'.repeat(300)}`)).toEqual(
      usage('That is too long for a command (305 characters).'),
    );
  });

  it('parses every example a command offers as that command', () => {
    for (const name of commandNames) {
      for (const example of commands[name].examples) {
        expect(parseSlashText(example).name, example).toBe(name);
      }
    }
  });
});
