import type { SandboxedJob } from 'bullmq';
import { loadConfig } from '../src/config/load';
import { createLogger } from '../src/core/logger';
import type { BuildJobData } from '../src/delivery/queues';
import { Runtime } from '../src/delivery/runtime';
import { processEditionJob } from './edition.worker';

/**
 * BullMQ sandboxed processor for edition jobs: runs in a child process of `daybreak worker`.
 * It reads the same configuration (DAYBREAK_CONFIG and the environment) as its parent.
 */
let runtime: Runtime | undefined;

export default async function editionProcessor(job: SandboxedJob<BuildJobData>): Promise<string> {
  runtime ??= new Runtime(loadConfig(), { logger: createLogger({ pretty: false }) });
  return processEditionJob(runtime, job);
}
