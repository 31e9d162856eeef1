/** The scheduler: each newsletter's cron in its own time zone queues that day's edition, and catches up after downtime. */
import cron, { type ScheduledTask } from 'node-cron';
import { editionIdFor } from './edition';
import { enqueueEdition, type EnqueueDeps, type EnqueueResult } from './enqueue';
import { localDateOf, scheduledSlot } from './schedule';
import type { LoadedConfig } from '../config/load';
import type { Logger } from '../core/logger';

export interface SchedulerDeps extends EnqueueDeps {
  logger: Logger;
  config: EnqueueDeps['config'] & Pick<LoadedConfig, 'newsletters'>;
  /**
   * What ends what Daybreak keeps (ops/lifecycle.ts: compaction, retention, trims), run hourly;
   * the root injects it, so delivery does not import ops.
   */
  housekeeping?(): Promise<unknown>;
}

/** Every hour, at seven minutes past (away from the top of the hour, when editions are queued). */
const housekeepingCron = '7 * * * *';

/**
 * node-cron fires each newsletter in its own time zone; the work of a tick (`trigger`) is a plain
 * method taking the clock's "now", so tests drive it without waiting. Any number of schedulers
 * may run: the edition is created atomically, so one day gets one edition.
 */
export class EditionScheduler {
  private tasks: ScheduledTask[] = [];

  constructor(private readonly deps: SchedulerDeps) {}

  start(): void {
    for (const newsletter of this.deps.config.newsletters) {
      const task = cron.schedule(
        newsletter.cron,
        () => {
          this.trigger(newsletter.id).catch((err) => this.deps.logger.error({ err, newsletter: newsletter.id }, 'scheduled edition could not be queued'));
        },
        { timezone: newsletter.timezone, name: `edition:${newsletter.id}` },
      );
      this.tasks.push(task);
      this.deps.logger.info({ newsletter: newsletter.id, cron: newsletter.cron, timezone: newsletter.timezone, next: task.getNextRun()?.toISOString() }, 'scheduled');
    }
    this.catchUp().catch((err) => this.deps.logger.error({ err }, 'catch-up check failed'));
    if (this.deps.housekeeping) {
      this.tasks.push(cron.schedule(housekeepingCron, () => {
        this.housekeep().catch((err) => this.deps.logger.error({ err }, 'housekeeping failed'));
      }, { name: 'housekeeping' }));
    }
  }

  /** One housekeeping run (the hourly task's work; tests call it with their clock moved). */
  async housekeep(): Promise<unknown> {
    return this.deps.housekeeping?.();
  }

  async stop(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.destroy()));
    this.tasks = [];
  }

  /** A tick: today's edition (in the newsletter's zone) is created and queued, once. */
  async trigger(newsletterId: string): Promise<EnqueueResult> {
    const newsletter = this.deps.newsletter(newsletterId);
    const localDate = localDateOf(this.deps.clock.now(), newsletter.timezone);
    const result = await enqueueEdition(this.deps, { newsletterId, localDate, trigger: 'schedule' });
    this.deps.logger.info({ editionId: result.edition.id, created: result.created }, result.created ? 'edition queued by schedule' : 'edition already exists; nothing to do');
    return result;
  }

  /**
   * After downtime: a slot that passed today with no edition gets one now. The build then applies
   * the staleness guard, so an edition hours late is held for ops, not sent at an odd hour.
   */
  async catchUp(): Promise<EnqueueResult[]> {
    const now = this.deps.clock.now();
    const results: EnqueueResult[] = [];
    for (const newsletter of this.deps.config.newsletters) {
      const localDate = localDateOf(now, newsletter.timezone);
      const slot = scheduledSlot(newsletter.cron, newsletter.timezone, localDate);
      if (!slot || slot > now) continue;
      const existing = await this.deps.editions.get(editionIdFor(newsletter.id, localDate));
      if (!existing) results.push(await this.trigger(newsletter.id));
    }
    return results;
  }
}
