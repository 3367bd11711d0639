import { describe, expect, it } from 'vitest';
import { endpointTemplate } from '../../src/api-metrics.js';

describe('endpointTemplate', () => {
  it.each([
    [
      'https://smba.trafficmanager.net/teams/v3/conversations/19%3Aab%40thread.tacv2/activities/1712345678901',
      '/teams/v3/conversations/{id}/activities/{id}',
    ],
    [
      'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token',
      '/{id}/oauth2/v2.0/token',
    ],
    ['/api/2.0/sql/warehouses/abc123def4567890', '/api/2.0/sql/warehouses/{id}'],
    ['/api/2.0/sql/warehouses/abc123def4567890/start', '/api/2.0/sql/warehouses/{id}/start'],
    ['/api/2.2/jobs/runs/get?run_id=42', '/api/2.2/jobs/runs/get'],
    [
      '/api/2.0/fs/files/Volumes/main/crypto/landing/labels/2026-12-03T10-00-00Z-u1.jsonl',
      '/api/2.0/fs/files/{path}',
    ],
    ['/api/2.0/fs/directories/Volumes/main/crypto/landing/labels/', '/api/2.0/fs/directories/{path}'],
    ['https://slack.com/api/chat.postMessage', '/api/chat.postMessage'],
    ['/coins/bitcoin/market_chart/range?vs_currency=usd', '/coins/bitcoin/market_chart/range'],
    [
      'https://graph.microsoft.com/v1.0/users/6666666a-7777-4888-9999-aaaaaaaaaaaa/checkMemberGroups',
      '/v1.0/users/{id}/checkMemberGroups',
    ],
  ])('%s → %s', (url, template) => {
    expect(endpointTemplate(url)).toBe(template);
  });

  it('never carries a query, whatever it holds', () => {
    expect(endpointTemplate('/api/2.0/mlflow/registered-models/alias?name=secret-ish&alias=champion')).toBe(
      '/api/2.0/mlflow/registered-models/alias',
    );
  });
});
