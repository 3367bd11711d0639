/**
 * bench/soak: the soak test's run (tests/support/soak.ts) with figures instead of assertions.
 * `npm start` on the simulator at SIMULATOR_SPEED (default 120) for --minutes (default 10, 20
 * simulated hours), then, unless --idle-seconds 0, `npm start` again in real time to measure its
 * idle resident memory (the median from 60 s after the first round, for --idle-seconds).
 * Prints one line: memory first/last simulated hour (MB, ratio; target ≤ 1.10), idle RSS (target
 * ≤ 200 MB), runs per job (scheduled min–max), anomalies delivered once (n of n).
 * Usage: npm run bench:soak [-- --minutes 10 --speed 120 --idle-seconds 60]
 */
import { parseArgs } from 'node:util';
import { measureIdleRss, runSoak } from '../tests/support/soak.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    speed: { type: 'string', default: '120' },
    'idle-seconds': { type: 'string', default: '60' },
    verbose: { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const speed = Number(values.speed);
const idleSeconds = Number(values['idle-seconds']);
if (!(minutes > 0) || !Number.isInteger(speed) || speed < 1 || !(idleSeconds >= 0)) {
  console.error('usage: npm run bench:soak -- [--minutes N] [--speed 1..3600] [--idle-seconds N]');
  process.exit(2);
}
const onLine = values.verbose ? (line: string) => console.error(line) : undefined;

const soak = await runSoak({ minutes, speed, ...(onLine ? { onLine } : {}) });
const idle =
  idleSeconds > 0
    ? await measureIdleRss({ sampleSeconds: idleSeconds, ...(onLine ? { onLine } : {}) })
    : undefined;

const once = soak.expected.filter((key) => soak.delivered.get(key) === 1).length;
const repeated = [...soak.delivered.values()].filter((n) => n > 1).length;
const jobs = soak.jobs
  .map((j) => `${j.job} ${j.ran ?? 'n/a'} (${j.min === j.max ? j.min : `${j.min}–${j.max}`})`)
  .join(', ');
const failed = soak.jobs.reduce((n, j) => n + j.failed, 0) + soak.failedLines.length;
console.log(
  [
    `soak ${minutes} min at ${speed}× (${soak.hours} simulated h):`,
    `RSS first/last hour ${soak.firstHourMb.toFixed(0)}/${soak.lastHourMb.toFixed(0)} MB (ratio ${(soak.lastHourMb / soak.firstHourMb).toFixed(3)})`,
    `idle RSS ${idle ? `${idle.medianMb.toFixed(0)} MB` : 'not measured'}`,
    `jobs run (scheduled): ${jobs}; ${failed} failed`,
    `anomalies delivered once ${once} of ${soak.expected.length}${repeated > 0 ? `, ${repeated} repeated` : ''}`,
    `channel ${soak.channelMessages} messages (${(soak.bytesPerMessage / 1024).toFixed(1)} KB each as JSON)`,
    `exit ${soak.exit.code ?? soak.exit.signal}`,
  ].join('; '),
);
