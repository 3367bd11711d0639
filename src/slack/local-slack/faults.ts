import type { Fault } from './types.js';

/**
 * Faults queued per method and consumed one per request, in order: a method's own queue first,
 * then the '*' queue (any Web API method; uploads and response URLs only take their own queues,
 * named 'upload_url' and 'response_url').
 */
export class FaultQueues {
  private readonly queues = new Map<string, Fault[]>();

  add(method: string, faults: Fault[]): void {
    this.queues.set(method, [...(this.queues.get(method) ?? []), ...faults]);
  }

  clear(): void {
    this.queues.clear();
  }

  take(method: string, wildcard: boolean): Fault | undefined {
    return this.queues.get(method)?.shift() ?? (wildcard ? this.queues.get('*')?.shift() : undefined);
  }
}
