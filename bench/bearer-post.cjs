// Posts an activity to the bot as the Bot Connector does (JSON, `Authorization: Bearer <JWT>`),
// and times the answer. Plain CommonJS, because the benchmark's load generator runs it in a worker
// of its own, apart from the bot it measures.
const http = require('node:http');

/** Resolves with the answer's status (0: no answer) and how long it took, in ms. */
exports.bearerPost = function bearerPost(agent, url, token, body) {
  return new Promise((resolve) => {
    const started = performance.now();
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      authorization: `Bearer ${token}`,
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
