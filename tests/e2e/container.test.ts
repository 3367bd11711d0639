import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dockerignore,
  type ImageConfig,
  layOut,
  parseDockerfile,
  runShell,
  type Stage,
} from '../support/dockerfile-image.js';
import { freePort } from '../support/free-port.js';
import { decodePng } from '../support/png.js';
import { until } from '../support/until.js';

/**
 * The container image, proven to start without Docker: the Dockerfile is parsed and followed
 * stage by stage. The build stage's COPY sources (through .dockerignore) go into an empty folder
 * and its RUN commands build the app there (npm ci, npm run build, npm prune); the final stage's
 * COPY lines fill another empty folder, the image, which belongs to root. The app then starts from
 * it with the image's ENV, WORKDIR and ENTRYPOINT + CMD (less tini) as the image's unprivileged
 * user, who may write in the volume only, on the simulator: the console answers, the first feed
 * message reaches its channel with a PNG chart, and the image's own HEALTHCHECK command passes.
 * Dropping one COPY line makes the start fail, so the test sees what the image lacks.
 * What it cannot see: the base image itself (its Node is this machine's) and the apt-get step.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SETPRIV = '/usr/bin/setpriv';
const unprivilegedUnavailable =
  process.getuid?.() !== 0
    ? 'not running as root: cannot start the app as the image user in a folder it does not own (setpriv needs root)'
    : existsSync(SETPRIV)
      ? undefined
      : `no ${SETPRIV} to start the app as the image user (apt-get install util-linux)`;

/** The official Node images' unprivileged user (https://github.com/nodejs/docker-node/blob/main/docs/BestPractices.md#non-root-user). */
const NAMED_USERS: Record<string, string> = { node: '1000:1000' };

let work: string;
let buildRoot: string;
let finalStage: Stage;
let ignored: (path: string) => boolean;

beforeAll(async () => {
  if (unprivilegedUnavailable) return;
  work = await mkdtemp(join(tmpdir(), 'crm-container-'));
  // the image user must be able to reach the image below it
  chmodSync(work, 0o755);
  const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  expect(stages.map((s) => s.name)).toEqual(['build', undefined]);
  const [build, final] = stages as [Stage, Stage];
  finalStage = final;
  buildRoot = join(work, 'build');
  await layOut(build, {
    root: buildRoot,
    context: ROOT,
    ignored,
    stages: {},
    run: (command, cwd) =>
      runShell(command, cwd, {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        // the npm cache that this machine's own npm ci filled: no registry round trips
        npm_config_prefer_offline: 'true',
        npm_config_update_notifier: 'false',
      }),
  });
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

interface Image {
  root: string;
  config: ImageConfig;
  uid: number;
  gid: number;
  /** The app's folder (WORKDIR) on this machine. */
  app: string;
  /** The image's ENV, its absolute paths taken into the image folder. */
  env: Record<string, string>;
}

/** The final stage laid out in a new folder, without the COPY lines `drop` names. */
async function image(drop: (source: string) => boolean = () => false): Promise<Image> {
  const root = await mkdtemp(join(work, 'image-'));
  chmodSync(root, 0o755);
  const stage = {
    ...finalStage,
    steps: finalStage.steps.filter((s) => !(s.kind === 'COPY' && s.sources.some(drop))),
  };
  const config = await layOut(stage, { root, context: ROOT, ignored, stages: { build: buildRoot } });
  const [uid, gid] = (NAMED_USERS[config.user] ?? config.user).split(':').map(Number) as [number, number];
  // what the final stage's RUN does for its volumes (checked in the test): a folder the user owns
  for (const volume of config.volumes) {
    mkdirSync(join(root, volume), { recursive: true });
    chownSync(join(root, volume), uid, gid);
  }
  const home = join(root, 'home', 'user');
  mkdirSync(home, { recursive: true });
  chownSync(home, uid, gid);
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: home };
  for (const [name, value] of Object.entries(config.env))
    env[name] = value.startsWith('/') ? join(root, value) : value;
  return { root, config, uid, gid, app: join(root, config.workdir), env };
}

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** A command of the image run as its user, from its WORKDIR (`node` is this machine's). */
function runAs(img: Image, argv: string[], env: Record<string, string> = {}): Started {
  const [program, ...args] = argv;
  const child = spawn(
    SETPRIV,
    [
      `--reuid=${img.uid}`,
      `--regid=${img.gid}`,
      '--clear-groups',
      '--',
      program === 'node' ? process.execPath : (program as string),
      ...args,
    ],
    { cwd: img.app, env: { ...img.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const text = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    text.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text.stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => text.stdout, stderr: () => text.stderr, exited };
}

/** `docker run` of the image, less tini (PID 1 here is not ours to take). */
function start(img: Image, env: Record<string, string>): Started {
  const [init, separator, ...entrypoint] = img.config.entrypoint;
  expect([init, separator]).toEqual(['tini', '--']);
  return runAs(img, [...entrypoint, ...img.config.cmd], env);
}

async function simulatorEnv() {
  const port = await freePort();
  return {
    port,
    env: {
      MARKET_SOURCE: 'simulator',
      SIMULATOR_HISTORY_HOURS: '6',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      CONSOLE_HOST: '127.0.0.1',
    },
  };
}

type Block = { type: string; slack_file?: { id: string } };
type ConsoleState = {
  channels: Array<{ id: string; name: string }>;
  messages: Record<string, Array<{ metadata?: { event_type?: string }; blocks?: Block[] }>>;
};

describe('the container image, followed from the Dockerfile without Docker', () => {
  let running: Started | undefined;
  afterAll(() => {
    running?.child.kill('SIGKILL');
  });

  it('holds only what runs, as a non-root user, and starts: console, first feed message with its chart, HEALTHCHECK', async (ctx) => {
    if (unprivilegedUnavailable) ctx.skip(unprivilegedUnavailable);
    const img = await image();
    const { config } = img;

    // Node 20 reached its end of life in April 2026: the image runs on a supported LTS line
    expect(finalStage.image).toMatch(/^node:(22|24)-/);
    expect(config.user).not.toMatch(/^(root|0)(:|$)/);
    expect(img.uid).toBeGreaterThan(0);
    for (const volume of config.volumes) {
      expect(config.runs.join('\n')).toMatch(new RegExp(`chown ${config.user} ${volume}\\b`));
    }
    expect(config.runs.join('\n')).toMatch(/apt-get install [^\n]*\btini\b/);

    // runtime files only: the build, production dependencies, SQL, Slack manifest, notebooks
    const top = readdirSync(img.app).sort();
    expect(top).toEqual(['databricks', 'dist', 'node_modules', 'package.json', 'slack', 'sql']);
    for (const absent of ['src', 'tests', 'bench']) expect(top).not.toContain(absent);
    expect(existsSync(join(img.app, 'node_modules', 'vitest'))).toBe(false);
    expect(existsSync(join(img.app, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(img.app, 'node_modules', 'dejavu-fonts-ttf'))).toBe(true);
    expect(existsSync(join(img.app, 'dist', 'slack', 'local-slack', 'console', 'page'))).toBe(true);
    expect(readdirSync(join(img.app, 'databricks', 'lib', 'crypto_risk'))).not.toContain('__pycache__');

    // the app cannot change itself: the image is root's
    const probe = runAs(img, ['node', '-e', "require('node:fs').writeFileSync('probe', '')"]);
    expect(await probe.exited).not.toBe(0);
    expect(probe.stderr()).toMatch(/EACCES/);

    const { port, env } = await simulatorEnv();
    const app = start(img, env);
    running = app;
    const base = `http://127.0.0.1:${port}`;
    await until(() => app.stdout().includes(`console: ${base} `) || app.child.exitCode !== null, 60_000);
    expect(app.child.exitCode, app.stderr()).toBeNull();

    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/^<!doctype html>/i);

    // the first feed message, in the console's channel, with its chart
    const chartId = await until(async () => {
      const res = await fetch(`${base}/console/state?user=U0VIEW01`);
      const state = (await res.json()) as ConsoleState;
      for (const channel of state.channels) {
        for (const message of state.messages[channel.id] ?? []) {
          const chart = message.blocks?.find((b) => b.type === 'image')?.slack_file?.id;
          if (message.metadata?.event_type === 'crypto_anomaly' && chart) return chart;
        }
      }
      return undefined;
    }, 60_000);
    const chart = await fetch(`${base}/console/files/${chartId}`);
    expect(chart.headers.get('content-type')).toBe('image/png');
    const png = decodePng(new Uint8Array(await chart.arrayBuffer()));
    expect(png.width).toBeGreaterThan(100);
    expect(png.height).toBeGreaterThan(100);

    // the image's HEALTHCHECK command, as Docker runs it in the container
    const healthcheck = config.healthcheck?.command ?? [];
    expect(healthcheck[0]).toBe('node');
    const healthy = runAs(img, healthcheck, { PORT: String(port) });
    expect(await healthy.exited, healthy.stderr()).toBe(0);
    // and it fails when nothing answers
    const nobody = runAs(img, healthcheck, { PORT: String(await freePort()) });
    expect(await nobody.exited).toBe(1);

    // SIGTERM (what docker stop sends, through tini) stops it cleanly; its data is in the volume
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
    expect(app.stdout()).toMatch(/Stopped cleanly\.\n$/);
    expect(readdirSync(img.env.DATA_DIR as string)).toContain('crypto.duckdb');
    running = undefined;
  }, 120_000);

  it.for<[string, RegExp]>([
    ['sql', /sql\/local\/migrations/],
    ['slack', /slack\/manifest\.yml/],
  ])('does not start without its COPY of %s', { timeout: 60_000 }, async ([source, complaint], ctx) => {
    if (unprivilegedUnavailable) ctx.skip(unprivilegedUnavailable);
    const img = await image((s) => s === source);
    expect(existsSync(join(img.app, source))).toBe(false);
    const { env } = await simulatorEnv();
    const app = start(img, env);
    running = app;
    expect(await app.exited).not.toBe(0);
    expect(app.stderr()).toMatch(complaint);
    running = undefined;
  });
});
