// Posts a body to the bot signed as Slack signs its requests (v0 HMAC-SHA256 of `v0:<ts>:<body>`),
// and times the answer. Plain CommonJS, because the benchmarks' load generators run it in a worker
// or a process of their own, apart from the bot they measure.
const { createHmac } = require('node:crypto');
const http = require('node:http');

/** Resolves with the answer's status (0: no answer) and how long it took, in ms. */
exports.signedPost = function signedPost(agent, url, secret, body) {
  return new Promise((resolve) => {
    const ts = Math.floor(Date.now() / 1000);
    const signature = `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
    const started = performance.now();
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': Buffer.byteLength(body),
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': signature,
    };
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
};
