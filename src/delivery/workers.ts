/** BullMQ workers for the pipeline: edition builds (in a sandboxed child, or in-process) and sends. */
import path from 'node:path';
import { Worker, type ConnectionOptions } from 'bullmq';
import type Redis from 'ioredis';
import type { LoadedConfig } from '../config/load';
import { providerGroups } from '../config/pacing-schema';
import { isRedisConnectionError } from '../core/errors';
import type { Logger } from '../core/logger';
import { processEditionJob, type EditionJobDeps } from './edition-job';
import { flushDeliveryMetrics, instrumentDelivery, type InstrumentDeps } from './instrument';
import { editionQueueName, sendQueueName, type BuildJobData, type SendJobData } from './queues';
import { Pacer, type PacerDeps } from './pacer';
import { SendProcessor, type SendDeps } from './send-processor';
import { retryDelayMs, sendBackoffType } from './send-window';

/** What starting workers needs: the connection and BullMQ prefix, and what their jobs need. */
export type WorkerDeps = EditionJobDeps & SendDeps & InstrumentDeps & PacerDeps & {
  redis: Redis;
  keys: { bull: string };
  config: Pick<LoadedConfig, 'newsletters' | 'pacing'>;
  queues: PacerDeps['queues'] & SendDeps['queues'] & EditionJobDeps['queues'];
  editions: PacerDeps['editions'] & SendDeps['editions'] & EditionJobDeps['editions'];
};

/** Lock errors: jobs whose lock lapsed (a Redis outage longer than the lock, a stalled event loop), or that were taken over and finished meanwhile. */
const lostLock = /could not renew lock for job|Missing lock for job|Missing key for job/;
/** At most one line per process this often about lost locks. */
const lostLockReportMs = 60_000;
let lostLockReportedAt = -Infinity;

/**
 * A worker's 'error' events. A lost Redis comes here once per connection and retry (BullMQ's own
 * duplicated connections), dozens a second: the outage is reported once by the main connection
 * (core/redis.ts), so these stay at debug. After an outage longer than the job locks, every job in
 * flight reports its lost lock: one line says so (those jobs are taken over; the ledger keeps each
 * reader to one copy). Anything else is logged.
 */
function workerErrorHandler(logger: Logger, message: string, detail: Record<string, unknown> = {}): (err: Error) => void {
  return (err) => {
    if (isRedisConnectionError(err)) return logger.debug({ err: err.message, ...detail }, `${message} (Redis connection)`);
    if (lostLock.test(err.message)) {
      logger.debug({ err: err.message, ...detail }, message);
      if (performance.now() - lostLockReportedAt < lostLockReportMs) return;
      lostLockReportedAt = performance.now();
      return logger.info({ err: err.message, ...detail }, 'jobs lost their locks (Redis was unreachable longer than the lock lasts, or the process stalled); they are taken over, and the ledger still sends each reader one copy');
    }
    logger.error({ err, ...detail }, message);
  };
}

/** The sandboxed build child's entry: the compiled file, or (from source) a shim that registers tsx first. */
function sandboxEntry(): string {
  const workersDir = path.join(__dirname, '..', '..', 'workers');
  return __filename.endsWith('.ts') ? path.join(workersDir, 'edition.sandbox.js') : path.join(workersDir, 'edition.processor.js');
}

/**
 * `sandboxed`: builds run in a child process (BullMQ sandbox), so MJML, feed parsing and their
 * memory never sit in the sending process, and a render never stalls the send loop. In-process
 * (the default) shares the caller's collaborators: its clock and config, as commands and tests need.
 */
export function createEditionWorker(deps: WorkerDeps, options: { concurrency?: number; sandboxed?: boolean } = {}): Worker<BuildJobData> {
  const common = {
    connection: deps.redis as ConnectionOptions,
    prefix: deps.keys.bull,
    concurrency: options.concurrency ?? 2,
    lockDuration: Math.max(deps.config.delivery.lockDurationMs, 30_000),
    stalledInterval: deps.config.delivery.stalledIntervalMs,
    maxStalledCount: 5,
  };
  const worker = options.sandboxed
    ? new Worker<BuildJobData>(editionQueueName, sandboxEntry(), common)
    : new Worker<BuildJobData>(editionQueueName, (job) => processEditionJob(deps, job), common);
  worker.on('error', workerErrorHandler(deps.logger, 'edition worker error'));
  return worker;
}

/**
 * One BullMQ worker per newsletter and provider group (each group's send queue), all sharing one
 * processor (one edition cache), one pooled transport and one pacer. Each group's pace lives in
 * Redis as its queues' limits, so it binds every process (docs/delivery.md).
 */
export function createSendWorkers(deps: WorkerDeps, options: { concurrency?: number; newsletters?: string[] } = {}): Worker<SendJobData>[] {
  const pacing = deps.config.pacing;
  const pacer = pacing.enabled ? new Pacer(deps) : undefined;
  const concurrency = options.concurrency ?? deps.config.delivery.concurrency;
  // The workers of one newsletter's groups share the process's concurrency, as one worker had it alone.
  const processor = new SendProcessor(deps, pacer, { concurrency });
  // Counters, latency and progress samples for status and /metrics, from every sending process.
  instrumentDelivery(deps);
  const ids = options.newsletters ?? deps.config.newsletters.map((n) => n.id);
  const groups = pacing.enabled ? providerGroups(pacing) : [];
  if (pacer) void pacer.start(ids).catch((err: unknown) => deps.logger.warn({ err }, 'pacing could not set the queue limits yet; it tries again every second'));
  let open = 0;
  return ids.flatMap((id) => {
    const newsletter = deps.newsletter(id);
    const queues = [
      // The catch-all queue keeps the newsletter's own limiter (a pacing limit on `other`, when set, is a queue limit).
      { name: sendQueueName(id), concurrency: Math.min(concurrency, pacing.enabled ? pacing.other.connections ?? concurrency : concurrency), limiter: newsletter.rateLimit.perSecond ? { max: newsletter.rateLimit.perSecond, duration: 1000 } : undefined },
      // A group's queue never needs more jobs at once, in one process, than the group's connections.
      ...groups.map((g) => ({ name: sendQueueName(id, g.id), concurrency: Math.min(concurrency, g.connections), limiter: undefined })),
    ];
    return queues.map((q) => {
      const worker = new Worker<SendJobData>(q.name, (job, token) => processor.process(job, token), {
        connection: deps.redis as ConnectionOptions,
        prefix: deps.keys.bull,
        concurrency: q.concurrency,
        lockDuration: deps.config.delivery.lockDurationMs,
        stalledInterval: deps.config.delivery.stalledIntervalMs,
        // A crash mid-send leaves jobs stalled; they are taken over, not failed.
        maxStalledCount: 10,
        limiter: q.limiter,
        // Send jobs' retries: exponential, capped at a few minutes (the window's end stops them).
        settings: { backoffStrategy: (attemptsMade: number, type?: string) => (type === sendBackoffType ? retryDelayMs(deps.config.delivery, attemptsMade) : deps.config.delivery.backoffMs) },
      });
      open += 1;
      worker.on('error', workerErrorHandler(deps.logger, 'send worker error', { newsletter: id, queue: q.name }));
      worker.on('failed', (job, err) => {
        deps.logger.debug({ editionId: job?.data.e, jobId: job?.id, err: err.message }, 'send attempt failed');
        if (job) void processor.settleGivenUp(job, err);
      });
      worker.on('closed', () => {
        void flushDeliveryMetrics(deps);
        open -= 1;
        if (open === 0) void pacer?.stop();
      });
      return worker;
    });
  });
}
