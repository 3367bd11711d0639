import { ExitCode, UserError } from '../errors.js';
import type { Deployment, PipelineEngine, Platform } from './port.js';

/**
 * The capabilities only one platform has, for the commands that need them: the capability, or a
 * sentence saying where that work happens on this platform instead.
 */

/** The in-process pipeline engine (the embedded default). */
export function engineOf(platform: Platform, what: string): PipelineEngine {
  if (platform.engine) return platform.engine;
  throw new UserError(
    `On Databricks ${what} runs in the crypto-risk-score job (every 10 minutes): see its runs in the workspace, or \`crypto-risk status\`.`,
    { exitCode: ExitCode.Usage },
  );
}

/** The landing quarantine, which only the embedded pipeline keeps. */
export function quarantineOf(platform: Platform): PipelineEngine {
  if (platform.engine) return platform.engine;
  // The pipeline's Auto Loader reads the landing volume itself and handles bad input there
  // (02_dlt_pipeline.py: a line that is not JSON keeps its text in _rescued, an unexpected field or
  // type goes to _rescued_data), so no landing file is moved aside.
  throw new UserError(
    'There is no landing quarantine on Databricks: the pipeline keeps bad records in its rescued data columns.',
    { exitCode: ExitCode.Usage },
  );
}

/** Provisioning, which sets up a Databricks workspace. */
export function deploymentOf(platform: Platform): Deployment {
  if (platform.deployment) return platform.deployment;
  throw new UserError(
    'Provisioning sets up Databricks; this is the embedded default. Set DATABRICKS_HOST, DATABRICKS_TOKEN and ' +
      'DATABRICKS_WAREHOUSE_ID (README, Databricks) first.',
    { exitCode: ExitCode.Usage },
  );
}
