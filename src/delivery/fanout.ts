import type { Runtime } from './runtime';
import { sendJobId, type SendJobData } from './queues';

export interface FanoutResult {
  pages: number;
  queued: number;
  ms: number;
}

/**
 * Streams the newsletter's confirmed members in pages (never the whole list in memory), settles
 * the suppressed ones at once, and bulk-adds one small send job per remaining reader. Resumable:
 * the cursor is saved per page, and both the ledger and the job ids make a repeat add nothing.
 */
export async function fanOut(runtime: Runtime, editionId: string): Promise<FanoutResult> {
  const started = performance.now();
  const edition = await runtime.editions.get(editionId);
  if (!edition) throw new Error(`Edition ${editionId} does not exist`);
  if (edition.fanoutDone) return { pages: 0, queued: 0, ms: 0 };
  const { fanoutPageSize: pageSize, attempts, backoffMs } = runtime.config.delivery;
  const queue = runtime.queues.send(edition.newsletterId);
  const log = runtime.logger.child({ editionId });
  let cursor = edition.fanoutCursor;
  let pages = 0;
  let queued = 0;
  const jobOptions = {
    attempts,
    backoff: { type: 'exponential' as const, delay: backoffMs },
    // The ledger, not the finished job, remembers who was sent: completed jobs can go at once.
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
  // Read the next page while the current one is being added: Redis and BullMQ overlap.
  let nextPage = runtime.subscribers.pageMembers(edition.newsletterId, cursor, pageSize);
  for (;;) {
    const ids = await nextPage;
    if (ids.length === 0) break;
    cursor = Number(ids[ids.length - 1]);
    nextPage = runtime.subscribers.pageMembers(edition.newsletterId, cursor, pageSize);
    const toQueue = await runtime.editions.fanoutPage(edition, ids, runtime.clock.now());
    if (toQueue.length) {
      await queue.addBulk(toQueue.map((s) => ({ name: 'send', data: { e: editionId, s } satisfies SendJobData, opts: { ...jobOptions, jobId: sendJobId(editionId, s) } })));
    }
    await runtime.editions.saveFanoutCursor(editionId, cursor);
    pages += 1;
    queued += toQueue.length;
  }
  const ms = performance.now() - started;
  const finished = await runtime.editions.fanoutDone(editionId, runtime.clock.now(), { detail: { queued, pages, ms: Math.round(ms) }, ms });
  log.info({ queued, pages, ms: Math.round(ms), finished }, 'fan-out complete');
  return { pages, queued, ms };
}
