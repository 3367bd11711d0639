import { formatCount } from '../domain/format.js';

/** Text helpers the chat renderers (Block Kit, Adaptive Cards) share. */

/** Without control characters other than line breaks and tabs. */
export function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  return text.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}

/** One line: line breaks and tabs become spaces. */
export function oneLine(text: string): string {
  return clean(text)
    .replace(/\s*[\n\t]\s*/g, ' ')
    .trim();
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}
