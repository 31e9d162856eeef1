import type { Edition } from './edition';
import { editionIdFor } from './edition';
import type { Runtime } from './runtime';
import { editionSlot } from './schedule';

export interface EnqueueRequest {
  newsletterId: string;
  localDate: string;
  trigger: Edition['trigger'];
  /** Release a held (stale) edition: ops decided it should still go. */
  force?: boolean;
}

export interface EnqueueResult {
  edition: Edition;
  /** This call created the edition (false: it existed already). */
  created: boolean;
  /** A build job was (re)queued. */
  queued: boolean;
}

/**
 * Creates the day's edition if nobody has, and makes sure a build job is queued for it.
 * Safe from any number of schedulers and ops at once: creation is atomic in Redis and the build
 * job id is the edition's, so concurrent callers end with one edition and one job.
 */
export async function enqueueEdition(runtime: Runtime, request: EnqueueRequest): Promise<EnqueueResult> {
  const newsletter = runtime.newsletter(request.newsletterId);
  const now = runtime.clock.now();
  const id = editionIdFor(newsletter.id, request.localDate);
  const scheduledFor = editionSlot(newsletter.cron, newsletter.timezone, request.localDate);
  const created = await runtime.editions.createIfAbsent({ id, newsletterId: newsletter.id, localDate: request.localDate, trigger: request.trigger, scheduledFor, now });
  let edition = (await runtime.editions.get(id)) as Edition;

  if (!created && request.force && edition.state === 'held') {
    await runtime.editions.apply(id, 'release', { at: now, detail: { by: request.trigger }, fields: { forced: true }, clear: ['reason'] });
  } else if (!created && edition.state === 'failed' && request.trigger === 'manual') {
    // A manual run retries a build that failed (a feed that was down, say).
    await runtime.editions.apply(id, 'retry', { at: now, clear: ['reason', 'finishedAt'] });
  }
  edition = (await runtime.editions.get(id)) as Edition;
  const needsWork = edition.state === 'created' || edition.state === 'building' || ((edition.state === 'sending' || edition.state === 'paused') && !edition.fanoutDone);
  if (needsWork) {
    await runtime.queues.editions.add('build', { editionId: id }, {
      jobId: `build-${id}`,
      attempts: runtime.config.delivery.buildAttempts,
      backoff: { type: 'fixed', delay: runtime.config.delivery.buildRetryDelayMs },
      removeOnComplete: true,
      removeOnFail: true,
    });
  }
  return { edition, created, queued: needsWork };
}
