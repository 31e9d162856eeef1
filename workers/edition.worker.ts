import path from 'node:path';
import { Worker, type ConnectionOptions } from 'bullmq';
import { buildEdition } from '../src/delivery/build-edition';
import { fanOut } from '../src/delivery/fanout';
import { editionQueueName, type BuildJobData } from '../src/delivery/queues';
import type { Runtime } from '../src/delivery/runtime';

/** The parts of a BullMQ job the edition processor reads (a sandboxed job has the same). */
export interface EditionJob {
  data: BuildJobData;
  attemptsMade: number;
  opts: { attempts?: number };
}

/**
 * The edition job: build (pick, render once, store) then fan out. A build that fails on its last
 * try marks the edition failed with the reason, so nothing half-built is ever sent.
 */
export async function processEditionJob(runtime: Runtime, job: EditionJob): Promise<string> {
  const { editionId } = job.data;
  try {
    const outcome = await buildEdition(runtime, editionId);
    if (outcome === 'sending' || outcome === 'already') {
      const edition = await runtime.editions.get(editionId);
      if (edition && (edition.state === 'sending' || edition.state === 'paused') && !edition.fanoutDone) await fanOut(runtime, editionId);
    }
    return outcome;
  } catch (error) {
    const message = (error as Error).message;
    const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    runtime.logger.error({ editionId, attempt: job.attemptsMade + 1, err: error }, 'edition build failed');
    if (last) await runtime.editions.apply(editionId, 'fail', { at: runtime.clock.now(), detail: { reason: message }, fields: { reason: message, finishedAt: runtime.clock.now() } });
    throw error;
  }
}

/**
 * `sandboxed`: builds run in a child process (BullMQ sandbox), so MJML, feed parsing and their
 * memory never sit in the sending process, and a render never stalls the send loop. In-process
 * (the default) shares the caller's runtime: its clock and config, as commands and tests need.
 */
export function createEditionWorker(runtime: Runtime, options: { concurrency?: number; sandboxed?: boolean } = {}): Worker<BuildJobData> {
  const common = {
    connection: runtime.redis as ConnectionOptions,
    prefix: runtime.keys.bull,
    concurrency: options.concurrency ?? 2,
    lockDuration: Math.max(runtime.config.delivery.lockDurationMs, 30_000),
    stalledInterval: runtime.config.delivery.stalledIntervalMs,
    maxStalledCount: 5,
  };
  // From source (tsx) the child loads a small .js shim that registers tsx; from dist, the compiled file.
  const processorFile = __filename.endsWith('.ts') ? path.join(__dirname, 'edition.sandbox.js') : path.join(__dirname, 'edition.processor.js');
  const worker = options.sandboxed
    ? new Worker<BuildJobData>(editionQueueName, processorFile, common)
    : new Worker<BuildJobData>(editionQueueName, (job) => processEditionJob(runtime, job), common);
  worker.on('error', (err) => runtime.logger.error({ err }, 'edition worker error'));
  return worker;
}
