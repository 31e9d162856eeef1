import { Worker, type ConnectionOptions } from 'bullmq';
import { sendQueueName, type SendJobData } from '../src/delivery/queues';
import type { Runtime } from '../src/delivery/runtime';
import { SendProcessor } from '../src/delivery/send-processor';
import { flushDeliveryMetrics, instrumentDelivery } from '../src/delivery/instrument';

/**
 * One BullMQ worker per newsletter's send queue, all sharing one processor (one edition cache)
 * and one pooled transport. A newsletter's rate limit lives in Redis, so it binds every process.
 */
export function createSendWorkers(runtime: Runtime, options: { concurrency?: number; newsletters?: string[] } = {}): Worker<SendJobData>[] {
  const processor = new SendProcessor(runtime);
  // Counters, latency and progress samples for status and /metrics, from every sending process.
  instrumentDelivery(runtime);
  const concurrency = options.concurrency ?? runtime.config.delivery.concurrency;
  const ids = options.newsletters ?? runtime.config.newsletters.map((n) => n.id);
  return ids.map((id) => {
    const newsletter = runtime.newsletter(id);
    const worker = new Worker<SendJobData>(sendQueueName(id), (job, token) => processor.process(job, token), {
      connection: runtime.redis as ConnectionOptions,
      prefix: runtime.keys.bull,
      concurrency,
      lockDuration: runtime.config.delivery.lockDurationMs,
      stalledInterval: runtime.config.delivery.stalledIntervalMs,
      // A crash mid-send leaves jobs stalled; they are taken over, not failed.
      maxStalledCount: 10,
      limiter: newsletter.rateLimit.perSecond ? { max: newsletter.rateLimit.perSecond, duration: 1000 } : undefined,
    });
    worker.on('error', (err) => runtime.logger.error({ err, newsletter: id }, 'send worker error'));
    worker.on('failed', (job, err) => runtime.logger.debug({ editionId: job?.data.e, jobId: job?.id, err: err.message }, 'send attempt failed'));
    worker.on('closed', () => void flushDeliveryMetrics(runtime));
    // A job that failed for the last time on an unexpected error (not an SMTP reply, which the
    // processor records itself) still settles its reader as failed, so the edition can finish.
    worker.on('failed', (job, err) => {
      if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
      runtime.editions.ledgerEntry(job.data.e, job.data.s).then(async (entry) => {
        if (entry && (entry.kind === 'queued' || entry.kind === 'claimed')) {
          await runtime.editions.settle(job.data.e, job.data.s, 'f', `gave up after ${job.attemptsMade} attempts: ${err.message}`, runtime.clock.now());
        }
      }).catch((error: unknown) => runtime.logger.error({ err: error, editionId: job.data.e }, 'could not record a failed send'));
    });
    return worker;
  });
}
