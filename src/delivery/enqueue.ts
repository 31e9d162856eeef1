/** Queues a day's edition: created once (atomic), and its build job queued, however many callers ask. */
import type { Edition } from './edition';
import { editionIdFor } from './edition';
import { editionSlot } from './schedule';
import { planWaves } from './waves';
import type { DeliveryConfig, NewsletterConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import type { EditionStore } from './edition-store';
import type { SubscriberStore } from '../subscribers/store';
import type { DeliveryQueues } from './queues';

export interface EnqueueDeps {
  editions: Pick<EditionStore, 'createIfAbsent' | 'get' | 'apply' | 'planWaves' | 'waves' | 'releaseHeldWaves'>;
  /** The zones the newsletter's readers live in (its waves, when it is delivered in readers' zones). */
  subscribers: Pick<SubscriberStore, 'memberZones'>;
  queues: Pick<DeliveryQueues, 'editions'>;
  clock: Clock;
  newsletter(id: string): NewsletterConfig;
  config: { delivery: Pick<DeliveryConfig, 'buildAttempts' | 'buildRetryDelayMs'> };
}

export interface EnqueueRequest {
  newsletterId: string;
  localDate: string;
  trigger: Edition['trigger'];
  /** Release a held (stale) edition, or one awaiting the editors' approval: ops decided it should still go. */
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
export async function enqueueEdition(deps: EnqueueDeps, request: EnqueueRequest): Promise<EnqueueResult> {
  const newsletter = deps.newsletter(request.newsletterId);
  const now = deps.clock.now();
  const id = editionIdFor(newsletter.id, request.localDate);
  // Delivered in readers' zones: one wave per zone its readers live in; the first wave is the edition's slot.
  const waves = newsletter.delivery === 'reader-zone' ? planWaves(newsletter.cron, newsletter.timezone, request.localDate, (await deps.subscribers.memberZones(newsletter.id)).zones.keys()) : undefined;
  const scheduledFor = waves ? (waves[0] as { due: Date }).due : editionSlot(newsletter.cron, newsletter.timezone, request.localDate);
  const created = await deps.editions.createIfAbsent({ id, newsletterId: newsletter.id, localDate: request.localDate, trigger: request.trigger, scheduledFor, now });
  // Planned with the edition (or after a crash between the two): a wave planned already keeps its state.
  if (waves && (created || !(await deps.editions.waves(id)))) await deps.editions.planWaves(id, waves);
  let edition = (await deps.editions.get(id)) as Edition;

  if (!created && request.force && edition.state === 'held') {
    await deps.editions.apply(id, 'release', { at: now, detail: { by: request.trigger }, fields: { forced: true }, clear: ['reason'] });
  } else if (!created && request.force && edition.state === 'awaiting-approval') {
    // Ops force an edition under the editors' say: it goes now, as stored, whatever their say or the hour.
    await deps.editions.apply(id, 'releaseApproved', { at: now, detail: { by: request.trigger, forced: true }, fields: { forced: true, startedAt: now } });
  } else if (!created && request.force && waves && (edition.state === 'sending' || edition.state === 'paused' || edition.state === 'done')) {
    // Ops force the waves that were held as too late: they go now, past the staleness guard.
    const released = await deps.editions.releaseHeldWaves(id);
    if (released.length && edition.state === 'done') await deps.editions.apply(id, 'reopen', { at: now, detail: { by: request.trigger, waves: released } });
  } else if (!created && edition.state === 'failed' && request.trigger === 'manual') {
    // A manual run retries a build that failed (a feed that was down, say).
    await deps.editions.apply(id, 'retry', { at: now, clear: ['reason', 'finishedAt'] });
  }
  edition = (await deps.editions.get(id)) as Edition;
  const needsWork = edition.state === 'created' || edition.state === 'building' || ((edition.state === 'sending' || edition.state === 'paused') && !edition.fanoutDone);
  if (needsWork) {
    await deps.queues.editions.add('build', { editionId: id }, {
      jobId: `build-${id}`,
      attempts: deps.config.delivery.buildAttempts,
      backoff: { type: 'fixed', delay: deps.config.delivery.buildRetryDelayMs },
      removeOnComplete: true,
      removeOnFail: true,
    });
  }
  return { edition, created, queued: needsWork };
}
