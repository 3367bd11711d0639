import { spawn } from 'node:child_process';
import { cpSync, existsSync, linkSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import {
  DockerfileParser,
  type Instruction,
  type JSONInstruction,
  type ModifiableInstruction,
} from 'dockerfile-ast';

/**
 * The Dockerfile followed without Docker, for tests: its stages parsed with dockerfile-ast (the
 * parser of the Docker language server), the context filtered by .dockerignore, each stage laid
 * out in a folder that stands for its root file system. Only the instructions this project's
 * Dockerfile uses are known; any other one fails loudly, so that the test is updated with it.
 * Semantics follow https://docs.docker.com/reference/dockerfile/ (COPY: a directory source copies
 * its contents; a destination ending in `/`, or several sources, is a directory).
 */

export interface CopyStep {
  kind: 'COPY';
  /** The stage it copies from (`--from`), or undefined for the build context. */
  from?: string;
  sources: string[];
  dest: string;
  /** The line in the Dockerfile (1-based), to name it in messages. */
  line: number;
}

export type Step =
  | CopyStep
  | { kind: 'WORKDIR'; path: string }
  | { kind: 'RUN'; command: string }
  | { kind: 'ENV'; vars: Array<[string, string]> }
  | { kind: 'USER'; user: string }
  | { kind: 'VOLUME'; paths: string[] }
  | { kind: 'EXPOSE'; ports: string[] }
  | { kind: 'HEALTHCHECK'; flags: Record<string, string>; command: string[] }
  | { kind: 'ENTRYPOINT'; args: string[] }
  | { kind: 'CMD'; args: string[] };

export interface Stage {
  image: string;
  name?: string;
  steps: Step[];
}

/** What a stage leaves for `docker run`: its environment, working directory, user and command. */
export interface ImageConfig {
  env: Record<string, string>;
  /** Absolute, inside the image. */
  workdir: string;
  user: string;
  volumes: string[];
  exposed: string[];
  healthcheck?: { flags: Record<string, string>; command: string[] };
  entrypoint: string[];
  cmd: string[];
  /** The RUN commands, in order. */
  runs: string[];
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === 'FROM') {
      const [image, as, name] = instruction.getArguments().map((a) => a.getValue());
      if (image === undefined) throw new Error(`line ${lineOf(instruction)}: FROM without an image`);
      stages.push(as?.toUpperCase() === 'AS' && name ? { image, name, steps: [] } : { image, steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`line ${lineOf(instruction)}: ${keyword} before the first FROM`);
    stage.steps.push(step(instruction));
  }
  return stages;
}

function lineOf(instruction: Instruction): number {
  return instruction.getRange().start.line + 1;
}

function flagsOf(instruction: Instruction): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const flag of (instruction as ModifiableInstruction).getFlags())
    flags[flag.getName()] = flag.getValue() ?? '';
  return flags;
}

/** The exec form (a JSON array) of an instruction's arguments, or its shell form run by `sh -c`. */
function command(text: string): string[] {
  const trimmed = text.trim();
  return trimmed.startsWith('[') ? (JSON.parse(trimmed) as string[]) : ['/bin/sh', '-c', trimmed];
}

function step(instruction: Instruction): Step {
  const keyword = instruction.getKeyword();
  const line = lineOf(instruction);
  const content = instruction.getArgumentsContent() ?? '';
  const args = () => instruction.getArguments().map((a) => a.getValue());
  switch (keyword) {
    case 'WORKDIR':
      return { kind: 'WORKDIR', path: content.trim() };
    case 'RUN':
      if (Object.keys(flagsOf(instruction)).length > 0)
        throw new Error(`line ${line}: RUN flags are not followed`);
      return { kind: 'RUN', command: content };
    case 'ENV': {
      const env = instruction as unknown as {
        getProperties(): Array<{ getName(): string; getValue(): string | null }>;
      };
      return { kind: 'ENV', vars: env.getProperties().map((p) => [p.getName(), p.getValue() ?? '']) };
    }
    case 'USER':
      return { kind: 'USER', user: content.trim() };
    case 'VOLUME':
      return { kind: 'VOLUME', paths: content.trim().startsWith('[') ? command(content) : args() };
    case 'EXPOSE':
      return { kind: 'EXPOSE', ports: args() };
    case 'ENTRYPOINT':
    case 'CMD':
      return { kind: keyword, args: command(content) };
    case 'HEALTHCHECK': {
      const match = /(?:^|\s)CMD\s+([\s\S]*)$/.exec(content);
      if (!match) throw new Error(`line ${line}: only HEALTHCHECK … CMD is followed`);
      return { kind: 'HEALTHCHECK', flags: flagsOf(instruction), command: command(match[1] as string) };
    }
    case 'COPY': {
      const { from, ...others } = flagsOf(instruction);
      if (Object.keys(others).length > 0)
        throw new Error(`line ${line}: COPY flags other than --from are not followed`);
      const json = (instruction as JSONInstruction).getJSONStrings();
      const paths = json.length > 0 ? json.map((a) => a.getValue()) : args();
      const dest = paths.pop();
      if (dest === undefined || paths.length === 0)
        throw new Error(`line ${line}: COPY needs a source and a destination`);
      for (const source of paths) {
        if (/[*?[]/.test(source))
          throw new Error(`line ${line}: COPY wildcards are not followed (${source})`);
      }
      return from === undefined
        ? { kind: 'COPY', sources: paths, dest, line }
        : { kind: 'COPY', from, sources: paths, dest, line };
    }
    default:
      throw new Error(
        `line ${line}: ${keyword} is not followed by this harness: teach tests/support/dockerfile-image.ts`,
      );
  }
}

/**
 * .dockerignore as Docker reads it (https://docs.docker.com/build/concepts/context/#dockerignore-files):
 * Go's filepath.Match patterns with `**` for any number of directories, matched against the path
 * relative to the context or any of its parent directories; the last matching line decides, and a
 * line starting with `!` takes the path back in.
 */
export function dockerignore(text: string): (relativePath: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const keep = l.startsWith('!');
      const pattern = posix.normalize((keep ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
      return { keep, regex: globToRegex(pattern) };
    });
  return (relativePath) => {
    const parts = relativePath.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) {
      if (candidates.some((c) => rule.regex.test(c))) ignored = !rule.keep;
    }
    return ignored;
  };
}

function globToRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` is any number of directories (none too), `**` at the end anything
      if (pattern[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      out += end > i ? `[${pattern.slice(i + 1, end).replace(/^\^/, '^')}]` : '\\[';
      if (end > i) i = end;
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

export interface LayOutOptions {
  /** The folder that stands for the stage's root file system. */
  root: string;
  /** The build context (the repository). */
  context: string;
  ignored: (relativePath: string) => boolean;
  /** The root folders of the stages laid out before, by name. */
  stages: Record<string, string>;
  /** Runs a RUN command in a folder (undefined: RUN is not executed here, only recorded). */
  run?: (command: string, cwd: string) => Promise<void>;
}

/** Lays a stage out in `root`: WORKDIR, COPY and (when `run` is given) RUN, in order. */
export async function layOut(stage: Stage, options: LayOutOptions): Promise<ImageConfig> {
  const { root } = options;
  const inRoot = (path: string) => join(root, path);
  const config: ImageConfig = {
    env: {},
    workdir: '/',
    user: 'root',
    volumes: [],
    exposed: [],
    entrypoint: [],
    cmd: [],
    runs: [],
  };
  for (const s of stage.steps) {
    switch (s.kind) {
      case 'WORKDIR':
        config.workdir = posix.resolve(config.workdir, s.path);
        mkdirSync(inRoot(config.workdir), { recursive: true });
        break;
      case 'COPY':
        copy(s, posix.resolve(config.workdir, s.dest) + (s.dest.endsWith('/') ? '/' : ''), options);
        break;
      case 'RUN':
        config.runs.push(s.command);
        if (options.run) await options.run(s.command, inRoot(config.workdir));
        break;
      case 'ENV':
        for (const [name, value] of s.vars) config.env[name] = value;
        break;
      case 'USER':
        config.user = s.user;
        break;
      case 'VOLUME':
        for (const path of s.paths) config.volumes.push(path);
        break;
      case 'EXPOSE':
        for (const port of s.ports) config.exposed.push(port);
        break;
      case 'HEALTHCHECK':
        config.healthcheck = { flags: s.flags, command: s.command };
        break;
      case 'ENTRYPOINT':
        config.entrypoint = s.args;
        // as in Docker, an ENTRYPOINT resets the CMD of the stage before it
        config.cmd = [];
        break;
      case 'CMD':
        config.cmd = s.args;
        break;
    }
  }
  return config;
}

function copy(s: CopyStep, dest: string, options: LayOutOptions): void {
  const intoDirectory = dest.endsWith('/') || s.sources.length > 1;
  for (const source of s.sources) {
    let from: string;
    let filter: (path: string) => boolean = () => true;
    if (s.from === undefined) {
      const relative = posix.normalize(source).replace(/^\/+|\/+$/g, '');
      from = join(options.context, relative);
      // a file or folder the .dockerignore leaves out of the context is not there to copy
      filter = (path) => !options.ignored(posix.join(relative, path));
      if (!existsSync(from) || !filter(''))
        throw new Error(`line ${s.line}: COPY ${source}: not found in the build context`);
    } else {
      const stageRoot = options.stages[s.from];
      if (stageRoot === undefined)
        throw new Error(`line ${s.line}: COPY --from=${s.from}: no such stage before it`);
      from = join(stageRoot, source);
      if (!existsSync(from)) throw new Error(`line ${s.line}: COPY --from=${s.from} ${source}: not found`);
    }
    const isDirectory = statSync(from).isDirectory();
    const target = join(
      options.root,
      intoDirectory && !isDirectory ? posix.join(dest, basename(source)) : dest,
    );
    // another stage's files are hard-linked: the same bytes and modes, without copying node_modules again
    if (isDirectory) copyTree(from, target, filter, s.from !== undefined);
    else {
      mkdirSync(dirname(target), { recursive: true });
      cpSync(from, target);
    }
  }
}

function copyTree(from: string, to: string, keep: (relativePath: string) => boolean, link: boolean): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (!keep(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) copyTree(source, target, (p) => keep(posix.join(entry.name, p)), link);
    else if (link && entry.isFile()) linkSync(source, target);
    else cpSync(source, target, { verbatimSymlinks: true });
  }
}

/** Runs a shell command as a RUN instruction does (`/bin/sh -c`); rejects with its output on failure. */
export function runShell(command: string, cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`RUN ${command} exited with ${code}:\n${output.slice(-3000)}`)),
    );
  });
}
