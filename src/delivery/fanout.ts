/** The fan-out: pages through a newsletter's members and queues one small send job per reader, resumably. */
import { sendJobId, sendJobRetries, type SendJobData } from './queues';
import { retryWindowMs } from './send-window';
import type { DeliveryConfig, NewsletterConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { SubscriberStore } from '../subscribers/store';
import type { EditionStore } from './edition-store';
import type { DeliveryQueues } from './queues';

export interface FanoutDeps {
  editions: Pick<EditionStore, 'get' | 'fanoutPage' | 'saveFanoutCursor' | 'fanoutDone'>;
  subscribers: Pick<SubscriberStore, 'pageMembers'>;
  queues: Pick<DeliveryQueues, 'send'>;
  clock: Clock;
  logger: Logger;
  newsletter(id: string): NewsletterConfig;
  config: { delivery: Pick<DeliveryConfig, 'fanoutPageSize' | 'backoffMs' | 'retryBackoffMaxMs' | 'retryWindowHours'> };
}

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
export async function fanOut(deps: FanoutDeps, editionId: string): Promise<FanoutResult> {
  const started = performance.now();
  const edition = await deps.editions.get(editionId);
  if (!edition) throw new Error(`Edition ${editionId} does not exist`);
  if (edition.fanoutDone) return { pages: 0, queued: 0, ms: 0 };
  const { fanoutPageSize: pageSize } = deps.config.delivery;
  const queue = deps.queues.send(edition.newsletterId);
  const log = deps.logger.child({ editionId });
  let cursor = edition.fanoutCursor;
  let pages = 0;
  let queued = 0;
  const jobOptions = {
    // Retried until the edition's send window closes, not a fixed number of times.
    ...sendJobRetries(deps.config.delivery, retryWindowMs(deps.config.delivery, deps.newsletter(edition.newsletterId))),
    // The ledger, not the finished job, remembers who was sent: completed jobs can go at once.
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
  // Read the next page while the current one is being added: Redis and BullMQ overlap.
  let nextPage = deps.subscribers.pageMembers(edition.newsletterId, cursor, pageSize);
  for (;;) {
    const ids = await nextPage;
    if (ids.length === 0) break;
    cursor = Number(ids[ids.length - 1]);
    nextPage = deps.subscribers.pageMembers(edition.newsletterId, cursor, pageSize);
    const toQueue = await deps.editions.fanoutPage(edition, ids, deps.clock.now());
    if (toQueue.length) {
      await queue.addBulk(toQueue.map((s) => ({ name: 'send', data: { e: editionId, s } satisfies SendJobData, opts: { ...jobOptions, jobId: sendJobId(editionId, s) } })));
    }
    await deps.editions.saveFanoutCursor(editionId, cursor);
    pages += 1;
    queued += toQueue.length;
  }
  const ms = performance.now() - started;
  const finished = await deps.editions.fanoutDone(editionId, deps.clock.now(), { detail: { queued, pages, ms: Math.round(ms) }, ms });
  log.info({ queued, pages, ms: Math.round(ms), finished }, 'fan-out complete');
  return { pages, queued, ms };
}
