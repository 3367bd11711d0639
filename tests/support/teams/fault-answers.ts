import type { Answer } from './connector-api.js';
import type { FaultAction } from './faults.js';
import { graphError } from './graph.js';

/** An injected status, in the error shape of the service the route belongs to. */
export function faultAnswer(fault: Extract<FaultAction, { kind: 'status' }>, path: string): Answer {
  const retry: Record<string, string> =
    fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
  if (fault.body !== undefined) return { status: fault.status, body: fault.body, headers: retry };
  if (path.startsWith('/v1.0/')) {
    // Graph answers throttling with 429 TooManyRequests and Retry-After ("Microsoft Graph throttling
    // guidance": https://learn.microsoft.com/graph/throttling).
    const code =
      fault.status === 429
        ? 'TooManyRequests'
        : fault.status === 503
          ? 'serviceNotAvailable'
          : 'generalException';
    const answer = graphError(
      fault.status,
      code,
      fault.status === 429 ? 'Please retry again later.' : `Injected ${fault.status}.`,
    );
    return { ...answer, headers: { ...answer.headers, ...retry } };
  }
  if (path.includes('/oauth2/')) {
    return {
      status: fault.status,
      headers: retry,
      body: {
        error: 'temporarily_unavailable',
        error_description: `AADSTS90033: Injected ${fault.status}.`,
        error_codes: [90033],
      },
    };
  }
  const body =
    fault.status === 429
      ? { error: { code: 'Throttled', message: 'Too Many Requests' } }
      : { error: { code: 'ServiceError', message: `Injected ${fault.status}.` } };
  return { status: fault.status, body, headers: retry };
}
