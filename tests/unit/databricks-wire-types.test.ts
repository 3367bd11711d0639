import type { catalog, jobs, pipelines, workspace } from '@databricks/sdk-experimental';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { aliasBody } from '../../src/platform/databricks/platform.js';
import type { requestBodies } from '../../src/platform/databricks/provision.js';
import type { Resources, runNowBody } from '../../src/platform/databricks/resources.js';
import { answer, type UnknownFields, wire } from '../support/databricks/wire.js';

/**
 * The request bodies the product sends, typed against `@databricks/sdk-experimental`'s wire models
 * (generated from Databricks' OpenAPI specification). tsc (`npm run typecheck`) is the check: a body
 * must be assignable to its model and carry no field the model lacks (UnknownFields is never).
 */
type Bodies = typeof requestBodies;
type JobSettings = ReturnType<Resources['jobs']>[number];
type PipelineSpec = Resources['pipeline'];

describe('Databricks wire types (checked by tsc)', () => {
  it('job settings (resources.ts) are Jobs 2.2 JobSettings / CreateJob / ResetJob', () => {
    expectTypeOf<JobSettings>().toExtend<jobs.JobSettings>();
    expectTypeOf<JobSettings>().toExtend<jobs.CreateJob>();
    expectTypeOf<UnknownFields<JobSettings, jobs.JobSettings>>().toEqualTypeOf<never>();
    expectTypeOf<UnknownFields<JobSettings, jobs.CreateJob>>().toEqualTypeOf<never>();
    expectTypeOf<ReturnType<Bodies['resetJob']>>().toExtend<jobs.ResetJob>();
    expectTypeOf<UnknownFields<ReturnType<Bodies['resetJob']>, jobs.ResetJob>>().toEqualTypeOf<never>();
  });

  it('the pipeline spec is a CreatePipeline, and its edit an EditPipeline (pipeline_id is the path)', () => {
    type Edit = Omit<pipelines.EditPipeline, 'pipeline_id'>;
    expectTypeOf<PipelineSpec>().toExtend<pipelines.CreatePipeline>();
    expectTypeOf<UnknownFields<PipelineSpec, pipelines.CreatePipeline>>().toEqualTypeOf<never>();
    expectTypeOf<ReturnType<Bodies['editPipeline']>>().toExtend<Edit>();
    expectTypeOf<UnknownFields<ReturnType<Bodies['editPipeline']>, Edit>>().toEqualTypeOf<never>();
  });

  it('Workspace mkdirs / import and Unity Catalog schema / volume creation', () => {
    expectTypeOf<ReturnType<Bodies['mkdirs']>>().toExtend<workspace.Mkdirs>();
    expectTypeOf<UnknownFields<ReturnType<Bodies['mkdirs']>, workspace.Mkdirs>>().toEqualTypeOf<never>();
    expectTypeOf<ReturnType<Bodies['importAsset']>>().toExtend<workspace.Import>();
    expectTypeOf<UnknownFields<ReturnType<Bodies['importAsset']>, workspace.Import>>().toEqualTypeOf<never>();
    expectTypeOf<ReturnType<Bodies['createSchema']>>().toExtend<catalog.CreateSchema>();
    expectTypeOf<
      UnknownFields<ReturnType<Bodies['createSchema']>, catalog.CreateSchema>
    >().toEqualTypeOf<never>();
    expectTypeOf<ReturnType<Bodies['createVolume']>>().toExtend<catalog.CreateVolumeRequestContent>();
    expectTypeOf<
      UnknownFields<ReturnType<Bodies['createVolume']>, catalog.CreateVolumeRequestContent>
    >().toEqualTypeOf<never>();
  });

  it('run-now and the champion alias (full_name and alias are the path)', () => {
    type Alias = Omit<catalog.SetRegisteredModelAliasRequest, 'full_name' | 'alias'>;
    expectTypeOf<ReturnType<typeof runNowBody>>().toExtend<jobs.RunNow>();
    expectTypeOf<UnknownFields<ReturnType<typeof runNowBody>, jobs.RunNow>>().toEqualTypeOf<never>();
    expectTypeOf<ReturnType<typeof aliasBody>>().toExtend<Alias>();
    expectTypeOf<UnknownFields<ReturnType<typeof aliasBody>, Alias>>().toEqualTypeOf<never>();
  });

  it('the check bites: a misspelled or unknown field fails tsc', () => {
    type Misspelled = JobSettings & { max_concurent_runs: number };
    // @ts-expect-error max_concurent_runs is not a field of JobSettings
    expectTypeOf<UnknownFields<Misspelled, jobs.JobSettings>>().toEqualTypeOf<never>();
    expectTypeOf<UnknownFields<Misspelled, jobs.JobSettings>>().toEqualTypeOf<'.max_concurent_runs'>();
    // Nested: a task with a misspelled notebook field.
    type Task = { task_key: string; notebook_task: { notebook_pth: string } };
    expectTypeOf<
      UnknownFields<{ tasks: Task[] }, jobs.JobSettings>
    >().toEqualTypeOf<'.tasks[].notebook_task.notebook_pth'>();
    // A loosely typed object (the emulator's JsonObject) is no model either.
    expectTypeOf<UnknownFields<Record<string, unknown>, jobs.Run>>().not.toEqualTypeOf<never>();
    // A wrong value type fails assignability.
    type Stopped = {
      schedule: { quartz_cron_expression: string; timezone_id: string; pause_status: 'STOPPED' };
    };
    // @ts-expect-error pause_status is PAUSED | UNPAUSED
    expectTypeOf<Stopped>().toExtend<jobs.JobSettings>();
  });

  it("the emulator's answers are held to the response models the same way", () => {
    const token = Math.random() > 0.5 ? { next_page_token: 'n' } : {};
    expect(answer<jobs.RunNowResponse>()({ run_id: 1, number_in_job: 1 }).json).toEqual({
      run_id: 1,
      number_in_job: 1,
    });
    // @ts-expect-error number_in_jobs is misspelled
    answer<jobs.RunNowResponse>()({ run_id: 1, number_in_jobs: 1 });
    // A stray field that arrives through a spread is caught too (plain excess-property checks miss it).
    // @ts-expect-error prev_token is not a field of ListJobsResponse
    answer<jobs.ListJobsResponse>()({ has_more: false, ...token, ...(token ? { prev_token: 'p' } : {}) });
    // Nested: a job's settings with a misspelled field.
    // @ts-expect-error settings.max_concurent_runs
    wire<jobs.BaseJob>()({ job_id: 1, settings: { name: 'x', max_concurent_runs: 1 } });
  });
});
