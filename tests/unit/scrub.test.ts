import { inspect } from 'node:util';
import { AxiosError, AxiosHeaders } from 'axios';
import { describe, expect, it } from 'vitest';
import { jsonErrorPlace } from '../../src/config.js';
import { scrubAxiosError, scrubForm } from '../../src/scrub.js';

const SECRET = 'sEcReT-0123456789abcdef';

describe('scrubForm', () => {
  it('blanks secret form fields and JSON fields, and keeps the rest', () => {
    expect(scrubForm(`grant_type=client_credentials&client_secret=${SECRET}&scope=all-apis`)).toBe(
      'grant_type=client_credentials&client_secret=[redacted]&scope=all-apis',
    );
    expect(scrubForm(`{"client_id":"abc","client_secret":"${SECRET}","token":"x\\"y"}`)).toBe(
      '{"client_id":"abc","client_secret":"[redacted]","token":"[redacted]"}',
    );
  });
});

describe('scrubAxiosError', () => {
  it('cleans the config, the response config, the raw request and the response headers', () => {
    const config = {
      url: `/x?x_cg_pro_api_key=${SECRET}&ids=bitcoin`,
      method: 'post',
      headers: new AxiosHeaders({
        Authorization: `Bearer ${SECRET}`,
        'x-cg-pro-api-key': SECRET,
        accept: 'json',
      }),
      auth: { username: 'client-id', password: SECRET },
      data: `client_secret=${SECRET}`,
      params: { access_token: SECRET, days: 1 },
    };
    const request = { _header: `POST /x HTTP/1.1\r\nAuthorization: Bearer ${SECRET}\r\n` };
    const response = {
      status: 401,
      statusText: 'Unauthorized',
      data: { message: 'no' },
      headers: new AxiosHeaders({ 'set-cookie': SECRET, 'content-type': 'application/json' }),
      config: { ...config, headers: new AxiosHeaders({ authorization: `Bearer ${SECRET}` }) },
      request,
    };
    const err = new AxiosError(
      'Request failed with status code 401',
      'ERR_BAD_REQUEST',
      config as never,
      request,
      response as never,
    );
    expect(inspect(err, { depth: Number.POSITIVE_INFINITY, showHidden: true })).toContain(SECRET);
    scrubAxiosError(err);
    const shown = inspect(err, { depth: Number.POSITIVE_INFINITY, showHidden: true });
    expect(shown).not.toContain(SECRET);
    expect(JSON.stringify(err.toJSON())).not.toContain(SECRET);
    // What is not secret stays, for the message and for a retry.
    expect(err.config?.method).toBe('post');
    expect(err.config?.headers.get('accept')).toBe('json');
    expect(err.config?.headers.has('authorization')).toBe(false);
    expect(err.config?.url).toContain('ids=bitcoin');
    expect(err.response?.status).toBe(401);
  });

  it('passes anything else through', () => {
    const plain = new Error(SECRET);
    expect(scrubAxiosError(plain)).toBe(plain);
  });
});

describe('jsonErrorPlace', () => {
  const place = (text: string) => {
    try {
      JSON.parse(text);
      return 'parsed';
    } catch (err) {
      return jsonErrorPlace(text, err);
    }
  };
  it('gives line and column from the offset, or from the quoted piece for an unexpected token', () => {
    expect(place('{\n  "a": 1\n  "b": 2\n}')).toBe(' at line 3, column 3');
    expect(place(`{\n  "LOG_LEVEL": "info",\n  "TOKEN": ${SECRET}\n}`)).toBe(' at line 3, column 12');
    expect(place('{"a": x}')).toBe('');
    expect(place('{"a": ')).toBe(' (it ends too early)');
  });
});
