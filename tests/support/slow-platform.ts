import type { Platform } from '../../src/platform/port.js';

/** The capabilities of the port whose calls are lakehouse work (port.ts). */
const CAPABILITIES = new Set(['reads', 'pipeline', 'engine', 'deployment']);

/**
 * The platform behind a delay: every call of a capability's method (`reads.status`,
 * `pipeline.retrain`, `pipeline.landing.write`, …) waits `delayMs` first, and is counted by its
 * path. Used to show that the bot acknowledges Slack before any platform work, and makes no call
 * when it must not. Opening the bot's own store and closing are not lakehouse work: not counted.
 */
export function slowPlatform(platform: Platform, delayMs: number): { platform: Platform; calls: string[] } {
  const calls: string[] = [];
  const wrap = <T extends object>(target: T, path: string): T =>
    new Proxy(target, {
      get(object, property, receiver) {
        const value = Reflect.get(object, property, receiver);
        const name = path ? `${path}.${String(property)}` : String(property);
        if (typeof value === 'function') {
          if (!path) return value.bind(object);
          return async (...args: unknown[]) => {
            calls.push(name);
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            return value.apply(object, args);
          };
        }
        if (value !== null && typeof value === 'object' && (path || CAPABILITIES.has(String(property)))) {
          return wrap(value as object, name);
        }
        return value;
      },
    });
  return { platform: wrap(platform, ''), calls };
}
