import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import {
  JOB_NAMES,
  type JobSettings,
  PIPELINE_NAME,
  type PipelineSpec,
  resources,
} from '../../src/platform/databricks/resources.js';

const BUNDLE = new URL('../../databricks/databricks.yml', import.meta.url);
const PIPELINE_ID = 'the-pipeline-id';

interface Target {
  mode?: 'development' | 'production';
  default?: boolean;
  presets?: { name_prefix?: string };
  workspace?: { root_path?: string };
  run_as?: unknown;
}

interface Bundle {
  variables: Record<string, { default: string }>;
  targets: Record<string, Target>;
  resources: {
    pipelines: Record<string, PipelineSpec>;
    jobs: Record<string, JobSettings>;
  };
}

/** The bundle with its variables and the pipeline reference resolved, as the CLI would deploy it. */
function bundle(): Bundle {
  const raw = parse(readFileSync(BUNDLE, 'utf8')) as Bundle;
  const vars = Object.fromEntries(Object.entries(raw.variables).map(([k, v]) => [k, String(v.default)]));
  const resolved = JSON.stringify(raw.resources)
    .replace(/\$\{var\.([a-z_]+)\}/g, (_m, name: string) => vars[name] ?? `<unknown ${name}>`)
    .replace(/\$\{resources\.pipelines\.crypto_risk_lakehouse\.id\}/, PIPELINE_ID);
  return { ...raw, resources: JSON.parse(resolved) };
}

/** Notebook paths relative to the deployment root: `notebooks/04_infer_iforest`. */
function relative<T>(value: T, root: string): T {
  return JSON.parse(
    JSON.stringify(value)
      .replaceAll(`${root}/`, '')
      .replace(/"\.\/(notebooks\/[^"]+)\.py"/g, '"$1"'),
  );
}

const config = loadConfig({
  env: {
    DATABRICKS_HOST: 'https://example.cloud.databricks.com',
    DATABRICKS_TOKEN: 'x',
    DATABRICKS_WAREHOUSE_ID: 'abc12345',
  },
  cwd: '/tmp',
});
const settings = config.databricks as NonNullable<typeof config.databricks>;
const defined = resources(settings, config.model, config.market.assets);
const deployed = bundle();

describe('the declarative definition and databricks.yml', () => {
  it('describe the same pipeline', () => {
    const [pipeline] = Object.values(deployed.resources.pipelines);
    expect(relative(pipeline, settings.workspaceDir)).toEqual(
      relative(defined.pipeline, settings.workspaceDir),
    );
  });

  it('describe the same jobs: names, schedules, parameters, tasks, one run at a time', () => {
    const jobs = defined.jobs(PIPELINE_ID);
    expect(
      Object.values(deployed.resources.jobs)
        .map((j) => j.name)
        .sort(),
    ).toEqual(jobs.map((j) => j.name).sort());
    for (const job of jobs) {
      const twin = Object.values(deployed.resources.jobs).find((j) => j.name === job.name);
      expect(relative(twin, settings.workspaceDir), job.name).toEqual(relative(job, settings.workspaceDir));
      expect(job.max_concurrent_runs).toBe(1);
      expect(job.schedule.timezone_id).toBe('UTC');
    }
  });

  it('deploys every notebook the jobs and the pipeline name', () => {
    const paths = new Set(defined.assets.map((a) => a.path));
    const named = [
      ...defined.pipeline.libraries.map((l) => l.notebook.path),
      ...defined
        .jobs(PIPELINE_ID)
        .flatMap((j) => j.tasks.flatMap((t) => (t.notebook_task ? [t.notebook_task.notebook_path] : []))),
    ];
    for (const path of named) expect(paths.has(path), path).toBe(true);
    for (const asset of defined.assets.filter((a) => a.kind === 'notebook')) {
      expect(asset.content.startsWith('# Databricks notebook source'), asset.path).toBe(true);
    }
    // Workspace import with format AUTO makes a notebook of a .py file that starts with the header
    // (https://docs.databricks.com/api/workspace/workspace/import): a helper must not, or Python
    // cannot import it.
    for (const asset of defined.assets.filter((a) => a.kind === 'file')) {
      expect(asset.path.endsWith('.py'), asset.path).toBe(true);
      expect(asset.content.trimStart().startsWith('# Databricks notebook source'), asset.path).toBe(false);
    }
  });
});

/** The short name of the user deploying, as `${workspace.current_user.short_name}` resolves. */
const SHORT_NAME = 'jane_doe';

/**
 * The name a job or pipeline gets when the bundle is deployed to `target`. Deployment modes
 * (https://docs.databricks.com/dev-tools/bundles/deployment-modes.html): development mode
 * "prepends all resources that are not deployed as files or notebooks with the prefix
 * [dev ${workspace.current_user.short_name}]" (followed by a space: `[dev jane_doe] my_job`);
 * production mode leaves names alone; a `presets.name_prefix` replaces the mode's prefix.
 */
function deployedName(name: string, target: Target): string {
  if (target.presets?.name_prefix !== undefined) return `${target.presets.name_prefix}${name}`;
  return target.mode === 'development' ? `[dev ${SHORT_NAME}] ${name}` : name;
}

describe('the bundle targets and the names the bot looks up', () => {
  /** What the bot finds by name: the provisioner's definition and the platform's look-ups. */
  const looksUp = [PIPELINE_NAME, ...Object.values(JOB_NAMES)].sort();
  const namesIn = (target: Target) =>
    [
      ...Object.values(deployed.resources.pipelines).map((p) => deployedName(p.name, target)),
      ...Object.values(deployed.resources.jobs).map((j) => deployedName(j.name, target)),
    ].sort();

  it('the provisioner creates the names the platform looks up', () => {
    expect([defined.pipeline.name, ...defined.jobs(PIPELINE_ID).map((j) => j.name)].sort()).toEqual(looksUp);
  });

  it('the default target is prod, in production mode, and deploys the names the bot looks up', () => {
    const defaults = Object.entries(deployed.targets).filter(([, t]) => t.default === true);
    expect(defaults.map(([name]) => name)).toEqual(['prod']);
    const prod = deployed.targets.prod as Target;
    expect(prod.mode).toBe('production');
    expect(namesIn(prod)).toEqual(looksUp);
    // Production mode without a service principal fails unless root_path is set (databricks/cli#1712),
    // and it checks the pipeline is not in development mode.
    expect(prod.workspace?.root_path).toMatch(/^\/Workspace\/Shared\//);
    for (const p of Object.values(deployed.resources.pipelines)) expect(p.development).toBe(false);
  });

  it('the dev target prefixes every name, so the bot does not find (or operate) a personal copy', () => {
    const dev = deployed.targets.dev as Target;
    expect(dev.mode).toBe('development');
    const names = namesIn(dev);
    expect(names).toEqual(looksUp.map((n) => `[dev ${SHORT_NAME}] ${n}`).sort());
    for (const name of names) expect(looksUp).not.toContain(name);
  });

  it('every target is one of those two: a new target needs a decision here', () => {
    expect(Object.keys(deployed.targets).sort()).toEqual(['dev', 'prod']);
    for (const target of Object.values(deployed.targets)) expect(target.presets?.name_prefix).toBeUndefined();
  });
});
