/** BullMQ sandboxed processor for edition jobs: runs in a child process of `daybreak worker`. */
import type { SandboxedJob } from 'bullmq';
import { loadConfig } from '../src/config/load';
import { createLogger } from '../src/core/logger';
import type { BuildJobData } from '../src/delivery/queues';
import { Runtime } from '../src/delivery/runtime';
import { processEditionJob } from './edition.worker';

// A build child must never outlive its worker: when the worker is killed (even with kill -9) the
// IPC channel closes, and an orphan would otherwise finish a fan-out nobody watches, or idle for
// hours. Exit at once; the build job is taken over by another worker and resumes from its cursor.
process.on('disconnect', () => process.exit(0));
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(0);
}, 1000).unref();

/** It reads the same configuration (DAYBREAK_CONFIG and the environment) as its parent. */
let runtime: Runtime | undefined;

export default async function editionProcessor(job: SandboxedJob<BuildJobData>): Promise<string> {
  runtime ??= new Runtime(loadConfig(), { logger: createLogger({ pretty: false }) });
  return processEditionJob(runtime, job);
}
