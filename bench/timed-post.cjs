// The posts the benchmarks' load generators make, each timed to its answer: a slash command signed
// as Slack signs its requests, and a Bot Framework activity with the connector's bearer token.
// Plain CommonJS, because the load generators run it in a worker or a process of their own, apart
// from the bot they measure.
const { createHmac } = require('node:crypto');
const http = require('node:http');

/** Resolves with the answer's status (0: no answer) and how long it took, in ms. */
function timedPost(agent, url, headers, body) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

/** A form body signed with Slack's v0 HMAC-SHA256 of `v0:<ts>:<body>`. */
exports.signedPost = function signedPost(agent, url, secret, body) {
  const ts = Math.floor(Date.now() / 1000);
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
  return timedPost(
    agent,
    url,
    {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': signature,
    },
    body,
  );
};

/** A JSON activity with `Authorization: Bearer <JWT>`, as the Bot Connector posts it. */
exports.bearerPost = function bearerPost(agent, url, token, body) {
  return timedPost(
    agent,
    url,
    { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  );
};
