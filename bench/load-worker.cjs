// The ack benchmark's load generator, in a worker thread apart from the bot's event loop: posts the
// warm-up bodies (not measured: the first requests of a fresh process pay for JIT and lazy setup),
// then every body at `concurrency`, and reports each answer's time. `auth` says how a post is made:
// signed as Slack signs (`{ secret }`) or with the connector's bearer token (`{ token }`).
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { bearerPost, signedPost } = require('./timed-post.cjs');

const agent = new http.Agent({ keepAlive: true, maxSockets: workerData.concurrency });
const url = new URL(workerData.url);
const { auth } = workerData;
const send = (body) =>
  auth.token ? bearerPost(agent, url, auth.token, body) : signedPost(agent, url, auth.secret, body);

(async () => {
  await Promise.all(workerData.warmup.map((body) => send(body)));
  const times = [];
  let failed = 0;
  let next = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: workerData.concurrency }, async () => {
      while (next < workerData.bodies.length) {
        const r = await send(workerData.bodies[next++]);
        if (r.status !== 200) failed++;
        times.push(r.ms);
      }
    }),
  );
  parentPort.postMessage({ times, failed, wallMs: performance.now() - began });
})();
