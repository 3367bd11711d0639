import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { type JobSettings, type PipelineSpec, resources } from '../../src/platform/databricks/resources.js';

const BUNDLE = new URL('../../databricks/databricks.yml', import.meta.url);
const PIPELINE_ID = 'the-pipeline-id';

interface Bundle {
  variables: Record<string, { default: string }>;
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

describe('the declarative definition and databricks.yml', () => {
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
  });
});
