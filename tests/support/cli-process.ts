import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The command line as a separate process (through tsx, as `npm run cli` runs it). */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first line of the stream that matches, rejects if the process ends first. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnCli(args: string[], env: Record<string, string>): CliProcess {
  return spawnIn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], env, false);
}

/**
 * `npm start`, as a new user runs it (build, then the main job), in a process group of its own:
 * signal it with `stop()`, which reaches npm and the node process it started.
 */
export function spawnNpmStart(
  env: Record<string, string>,
): CliProcess & { stop(signal: NodeJS.Signals): void } {
  const proc = spawnIn('npm', ['start'], env, true);
  return {
    ...proc,
    stop(signal) {
      const pid = proc.child.pid;
      if (pid !== undefined && proc.child.exitCode === null) process.kill(-pid, signal);
    },
  };
}

function spawnIn(
  command: string,
  args: string[],
  env: Record<string, string>,
  detached: boolean,
): CliProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
  const text = { stdout: '', stderr: '' };
  const waiters: Array<() => void> = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.on('data', (chunk: Buffer) => {
      text[stream] += chunk.toString();
      for (const wake of waiters.splice(0)) wake();
    });
  }
  // `ended` is set before the waiters wake, so that each sees the process gone and fails at once.
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      ended = true;
      resolve({ code, signal });
      for (const wake of waiters.splice(0)) wake();
    });
  });
  return {
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    exited,
    waitFor(pattern, stream = 'stdout', timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`timed out waiting for ${pattern} in ${stream}:\n${text[stream].slice(-2000)}`)),
          timeoutMs,
        );
        const check = () => {
          const line = text[stream].split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            clearTimeout(timer);
            resolve(line);
          } else if (ended) {
            clearTimeout(timer);
            reject(
              new Error(
                `the process ended before ${pattern} appeared in ${stream}:\n${text[stream].slice(-2000)}${text.stderr.slice(-2000)}`,
              ),
            );
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
  };
}
