/** The scheduler: each newsletter's cron in its own time zone queues that day's edition, and catches up after downtime. */
import cron, { type ScheduledTask } from 'node-cron';
import { checkApprovals, type ApprovalCheck, type ApprovalDeps } from './approval';
import { editionIdFor } from './edition';
import { enqueueEdition, type EnqueueResult } from './enqueue';
import { DateTime } from 'luxon';
import { isStale, localDateOf, scheduledSlot } from './schedule';
import { dueWaves, planWaves } from './waves';
import type { LoadedConfig } from '../config/load';
import type { NewsletterConfig } from '../config/schema';
import type { Logger } from '../core/logger';
import type { EditionStore } from './edition-store';
import type { SubscriberStore } from '../subscribers/store';

export interface SchedulerDeps extends ApprovalDeps {
  editions: ApprovalDeps['editions'] & Pick<EditionStore, 'waves'>;
  subscribers: ApprovalDeps['subscribers'] & Pick<SubscriberStore, 'memberZones' | 'reindexZones'>;
  logger: Logger;
  config: ApprovalDeps['config'] & Pick<LoadedConfig, 'newsletters'>;
  /**
   * What ends what Daybreak keeps (ops/lifecycle.ts: compaction, retention, trims), run hourly;
   * the root injects it, so delivery does not import ops.
   */
  housekeeping?(): Promise<unknown>;
}

/** Every hour, at seven minutes past (away from the top of the hour, when editions are queued). */
const housekeepingCron = '7 * * * *';

export interface TickResult {
  /** Editions under approval created and queued ahead of their slot by this tick. */
  early: EnqueueResult[];
  /** What the slot did with editions awaiting approval. */
  approvals: ApprovalCheck[];
  /** Editions delivered in readers' zones created, or given a worker for a wave whose time came, by this tick. */
  waves: EnqueueResult[];
}

/** Something else that runs on the scheduler's tick (the root adds the welcome emails' retry sweep). */
export type TickTask = () => Promise<unknown>;

/**
 * node-cron fires each newsletter in its own time zone; the work of a tick (`trigger`) is a plain
 * method taking the clock's "now", so tests drive it without waiting. Any number of schedulers
 * may run: the edition is created atomically, so one day gets one edition.
 */
export class EditionScheduler {
  private tasks: ScheduledTask[] = [];

  constructor(private readonly deps: SchedulerDeps, private readonly tickTasks: TickTask[] = []) {}

  start(): void {
    // Once a minute: early builds and the editors' say at the slot (approval), and the tasks given.
    this.tasks.push(cron.schedule('* * * * *', () => {
      this.tick().catch((err) => this.deps.logger.error({ err }, 'scheduler tick failed'));
    }, { name: 'tick' }));
    for (const newsletter of this.deps.config.newsletters) {
      if (newsletter.delivery === 'reader-zone') {
        // Its waves start at the earliest zone's time: the minute tick creates the edition and sends each wave.
        this.deps.logger.info({ newsletter: newsletter.id, cron: newsletter.cron, timezone: newsletter.timezone }, 'scheduled in readers\' own zones (a wave per zone, by the minute tick)');
        continue;
      }
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
   * The minute's work, a plain method on the clock's "now" so tests drive it: an edition under
   * approval is created and built `approvalLeadMinutes` before its slot (held for the editors,
   * previewed to them), and at its slot it goes or stays by their say (approval.ts).
   */
  async tick(): Promise<TickResult> {
    const now = this.deps.clock.now();
    const early: EnqueueResult[] = [];
    for (const newsletter of this.deps.config.newsletters) {
      if (newsletter.approval === 'none') continue;
      const leadMs = newsletter.approvalLeadMinutes * 60_000;
      const dates = new Set([localDateOf(now, newsletter.timezone), localDateOf(new Date(now.getTime() + leadMs), newsletter.timezone)]);
      for (const localDate of dates) {
        const slot = scheduledSlot(newsletter.cron, newsletter.timezone, localDate);
        if (!slot || now.getTime() < slot.getTime() - leadMs || now >= slot) continue;
        if (await this.deps.editions.get(editionIdFor(newsletter.id, localDate))) continue;
        const result = await enqueueEdition(this.deps, { newsletterId: newsletter.id, localDate, trigger: 'schedule' });
        this.deps.logger.info({ editionId: result.edition.id, slot: slot.toISOString() }, 'edition queued ahead of its slot for the editors');
        early.push(result);
      }
    }
    const approvals = await checkApprovals(this.deps);
    const waves: EnqueueResult[] = [];
    for (const newsletter of this.deps.config.newsletters) {
      if (newsletter.delivery === 'reader-zone') waves.push(...(await this.readerZoneTick(newsletter, now)));
    }
    for (const task of this.tickTasks) await task().catch((err: unknown) => this.deps.logger.error({ err }, 'scheduler tick task failed'));
    return { early, approvals, waves };
  }

  /**
   * A newsletter delivered in readers' zones: the day's edition is created when its first wave
   * (the earliest zone's time) comes, and each later wave is handed to a worker when its own time
   * comes (the worker holds a wave too late for its window). Its zone index is built first if it
   * was never built for the newsletter's current zone (a newsletter that just opted in).
   */
  async readerZoneTick(newsletter: NewsletterConfig, now: Date): Promise<EnqueueResult[]> {
    let zones = await this.deps.subscribers.memberZones(newsletter.id);
    if (zones.builtFor !== newsletter.timezone) {
      if (await this.deps.subscribers.reindexZones({ id: newsletter.id, timezone: newsletter.timezone })) {
        this.deps.logger.info({ newsletter: newsletter.id }, 'zone index built: readers are sent the edition at its time in their own zone');
      }
      zones = await this.deps.subscribers.memberZones(newsletter.id);
    }
    const today = DateTime.fromJSDate(now, { zone: newsletter.timezone }).startOf('day');
    const results: EnqueueResult[] = [];
    // Yesterday, today and tomorrow in the newsletter's zone: zones ahead of it start tomorrow's edition today.
    for (const day of [today.minus({ days: 1 }), today, today.plus({ days: 1 })]) {
      const localDate = day.toISODate() as string;
      if (!scheduledSlot(newsletter.cron, newsletter.timezone, localDate)) continue;
      const existing = await this.deps.editions.get(editionIdFor(newsletter.id, localDate));
      if (!existing) {
        const plan = planWaves(newsletter.cron, newsletter.timezone, localDate, zones.zones.keys());
        const first = (plan[0] as { due: Date }).due;
        const last = (plan[plan.length - 1] as { due: Date }).due;
        // A day whose every wave is past its window is only created for today (then held, as a missed slot is).
        if (now < first || (isStale(last, now, newsletter.sendWindowHours) && localDate !== localDateOf(now, newsletter.timezone))) continue;
        const result = await enqueueEdition(this.deps, { newsletterId: newsletter.id, localDate, trigger: 'schedule' });
        this.deps.logger.info({ editionId: result.edition.id, firstWave: first.toISOString(), created: result.created }, 'edition queued: its first wave is due');
        results.push(result);
      } else if ((existing.state === 'sending' || existing.state === 'paused') && !existing.fanoutDone) {
        const waves = await this.deps.editions.waves(existing.id);
        if (waves && dueWaves(waves, now).length) results.push(await enqueueEdition(this.deps, { newsletterId: newsletter.id, localDate, trigger: 'schedule' }));
      }
    }
    return results;
  }

  /**
   * After downtime: a slot that passed today with no edition gets one now. The build then applies
   * the staleness guard, so an edition hours late is held for ops, not sent at an odd hour.
   */
  async catchUp(): Promise<EnqueueResult[]> {
    const now = this.deps.clock.now();
    const results: EnqueueResult[] = [];
    for (const newsletter of this.deps.config.newsletters) {
      if (newsletter.delivery === 'reader-zone') {
        results.push(...(await this.readerZoneTick(newsletter, now)));
        continue;
      }
      const localDate = localDateOf(now, newsletter.timezone);
      const slot = scheduledSlot(newsletter.cron, newsletter.timezone, localDate);
      if (!slot || slot > now) continue;
      const existing = await this.deps.editions.get(editionIdFor(newsletter.id, localDate));
      if (!existing) results.push(await this.trigger(newsletter.id));
    }
    return results;
  }
}
