import type { Platform } from '../../src/platform/port.js';

/**
 * The platform behind a delay: every method call waits `delayMs` first, and is counted. Used to
 * show that the bot acknowledges Slack before any platform work, and makes no call when it must
 * not.
 */
export function slowPlatform(platform: Platform, delayMs: number): { platform: Platform; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(platform, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        calls.push(String(property));
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return value.apply(target, args);
      };
    },
  });
  return { platform: proxy, calls };
}
