/**
 * The pacer, one per sending process: hears each send's outcome per provider group, adapts the
 * group's pace in Redis (halve on a rate deferral, recover a little every second), and sets every
 * newsletter's queue for the group to its share of the pace, as BullMQ queue limits every worker obeys.
 */
import { providerGroups, type PacingConfig } from '../config/pacing-schema';
import type { NewsletterConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { EditionStore } from './edition-store';
import type { GroupCounts, PaceStore } from './pace-store';
import { afterAccepted, afterActivity, afterDeferral, afterRecovery, currentPace, isPaused, paused, queueRateLimit, shareOf, type PaceSettings, type PaceState } from './pacing';
import { otherGroup } from './providers';
import type { DeliveryQueues } from './queues';

export interface PacerDeps {
  paceStore: Pick<PaceStore, 'states' | 'state' | 'update' | 'addCounts'>;
  queues: Pick<DeliveryQueues, 'send'>;
  editions: Pick<EditionStore, 'log'>;
  clock: Clock;
  logger: Logger;
  config: { pacing: PacingConfig; newsletters: Array<Pick<NewsletterConfig, 'id' | 'rateLimit'>> };
}

/** A group's configured limits, and whether its pace adapts to deferrals. */
interface GroupLimits {
  perSecond?: number;
  connections?: number;
  adaptive: boolean;
  /** The pace a group starts from after being idle (see ProviderGroupDefaults.rampFromPerSecond). */
  rampFrom?: number;
}

/** How often the pace recovers and the queue limits are set again. */
const tickMs = 1000;
/** Queue limits are written again at least this often, though unchanged (another process may have written its own). */
const reassertMs = 30_000;
/** Tries of one compare-and-set before giving up (another process keeps winning: its change stands). */
const casTries = 5;

export interface GroupPause {
  until: Date;
  reason: string;
}

export class Pacer {
  private readonly states = new Map<string, PaceState>();
  private readonly counts = new Map<string, Map<string, GroupCounts>>();
  /** What this process last set on each queue, and when. */
  private readonly applied = new Map<string, { limit: string; at: number }>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private readonly limits = new Map<string, GroupLimits>();
  private newsletters: string[] = [];

  constructor(private readonly deps: PacerDeps) {
    for (const g of providerGroups(deps.config.pacing)) this.limits.set(g.id, { perSecond: g.perSecond, connections: g.connections, adaptive: true, rampFrom: g.rampFromPerSecond });
    const other = deps.config.pacing.other;
    this.limits.set(otherGroup, { perSecond: other.perSecond, connections: other.connections, adaptive: false });
  }

  private get settings(): PaceSettings {
    return this.deps.config.pacing;
  }

  /** Every group: those with limits get their queues' share; the others have any old limit taken off. */
  private get allGroups(): string[] {
    return [...this.limits.keys()];
  }

  /** Starts the second's tick for these newsletters' queues (the ones this process sends). */
  async start(newsletters: string[]): Promise<void> {
    this.newsletters = newsletters;
    await this.tick();
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = this.tick().catch((err: unknown) => this.deps.logger.warn({ err }, 'pacing tick failed; queue limits stay as they were')).finally(() => { this.ticking = undefined; });
    }, tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.flush();
  }

  /** The group's pause, as this process last read it (at most a second old). */
  pauseOf(group: string): GroupPause | undefined {
    const s = this.states.get(group);
    if (!s || !isPaused(s, this.deps.clock.now().getTime())) return undefined;
    return { until: new Date(s.pausedUntil as number), reason: s.pauseReason ?? 'kept deferring' };
  }

  private count(editionId: string, group: string, kind: keyof GroupCounts): void {
    let byGroup = this.counts.get(editionId);
    if (!byGroup) {
      byGroup = new Map();
      this.counts.set(editionId, byGroup);
    }
    const c = byGroup.get(group) ?? { sent: 0, deferred: 0 };
    c[kind] += 1;
    byGroup.set(group, c);
  }

  /** The group accepted a message. In memory, unless it was deferring (then its streak ends, once). */
  recordSent(editionId: string, group: string): void {
    this.count(editionId, group, 'sent');
    const state = this.states.get(group);
    if (state?.deferringSince === undefined) return;
    this.states.set(group, afterAccepted(state) ?? state);
    void this.change(group, (s) => afterAccepted(s)).catch((err: unknown) => this.deps.logger.debug({ err, group }, 'could not end a deferral streak'));
  }

  /**
   * The group deferred a message asking us to slow down: its pace halves (once per cooldown,
   * whichever worker hears it first), and its queues get their new share at once.
   */
  async recordDeferral(editionId: string, group: string, reply: string): Promise<void> {
    this.count(editionId, group, 'deferred');
    const limits = this.limits.get(group);
    if (!limits?.adaptive || limits.perSecond === undefined) return;
    const full = limits.perSecond;
    let before = full;
    const after = await this.change(group, (s) => {
      before = currentPace(s, full);
      return afterDeferral(s, full, this.settings, this.deps.clock.now().getTime(), reply);
    });
    if (after && currentPace(after, full) < before) {
      this.deps.logger.info({ group, pace: currentPace(after, full), reply }, `${group} asked us to slow down; its pace is now ${formatPace(currentPace(after, full))} messages/s (other providers keep theirs)`);
      await this.applyLimits([group]);
    }
  }

  /**
   * An edition's window closed on a reader of the group with a rate deferral as its last answer:
   * if the group is still deferring, it is paused for `pauseMinutes` (nothing more is sent to it)
   * and the pause is written in the edition's history. True when this call paused it.
   */
  async pauseAtWindowEnd(editionId: string, group: string, reply: string): Promise<boolean> {
    const limits = this.limits.get(group);
    if (!limits?.adaptive) return false;
    const now = this.deps.clock.now().getTime();
    const until = now + this.deps.config.pacing.pauseMinutes * 60_000;
    let pausedNow = false;
    await this.change(group, (s) => {
      pausedNow = false;
      if (s.deferringSince === undefined || isPaused(s, now)) return undefined;
      pausedNow = true;
      return paused(s, now, until, `kept deferring until the send window closed (${reply.slice(0, 160)})`);
    });
    if (!pausedNow) return false;
    const detail = { group, until: new Date(until).toISOString(), reply: reply.slice(0, 200) };
    this.deps.logger.warn(detail, `${group} kept deferring until the send window closed; nothing more is sent to it until ${detail.until} (its readers are failed with the reason; \`daybreak resend ${editionId} --failed\` sends them later)`);
    await this.deps.editions.log(editionId, this.deps.clock.now(), 'provider-paused', detail);
    return true;
  }

  /** Reads the group's state, applies `decide`, writes it if nobody else changed it meanwhile. */
  private async change(group: string, decide: (state: PaceState) => PaceState | undefined): Promise<PaceState | undefined> {
    for (let i = 0; i < casTries; i++) {
      const state = await this.deps.paceStore.state(group);
      const next = decide(state);
      if (!next) {
        this.states.set(group, state);
        return state;
      }
      if (await this.deps.paceStore.update(group, state, next)) {
        const written = { ...next, version: state.version + 1 };
        this.states.set(group, written);
        return written;
      }
    }
    return undefined;
  }

  /** The second's work: recover slowed groups, lift pauses that ran out, set queue limits, write counts. */
  async tick(): Promise<void> {
    const groups = [...this.limits.keys()];
    const states = await this.deps.paceStore.states(groups);
    const now = this.deps.clock.now().getTime();
    for (const [group, state] of states) {
      this.states.set(group, state);
      const limits = this.limits.get(group) as GroupLimits;
      if (!limits.adaptive || limits.perSecond === undefined) continue;
      const full = limits.perSecond;
      if (afterRecovery(state, full, this.settings, now)) await this.change(group, (s) => afterRecovery(s, full, this.settings, this.deps.clock.now().getTime()));
    }
    await this.applyLimits(this.allGroups);
    await this.flush();
  }

  /**
   * Sets each newsletter's queue for these groups to its share of the group's pace and connections:
   * shared between the newsletters with messages queued for the group, so together they keep to
   * the group's limits; a newsletter's own rateLimit.perSecond caps its share.
   */
  private async applyLimits(groups: string[]): Promise<void> {
    const now = Date.now();
    for (const group of groups) {
      const limits = this.limits.get(group);
      if (!limits) continue;
      const queues = this.newsletters.map((id) => ({ id, queue: this.deps.queues.send(id, group) }));
      if (limits.perSecond === undefined && limits.connections === undefined) {
        // Not paced (a limit taken out of the config): whatever an earlier run set goes, once.
        for (const { queue } of queues) {
          if (this.applied.has(queue.name)) continue;
          await queue.removeGlobalRateLimit();
          await queue.removeGlobalConcurrency();
          this.applied.set(queue.name, { limit: 'none', at: Number.POSITIVE_INFINITY });
        }
        continue;
      }
      const counts = await Promise.all(queues.map(({ queue }) => queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized')));
      const sharers = counts.filter((c) => Object.values(c).some((n) => n > 0)).length;
      if (sharers > 0 && limits.adaptive && limits.perSecond !== undefined) await this.noteActivity(group, limits.perSecond, limits.rampFrom);
      const pace = limits.perSecond === undefined ? undefined : limits.adaptive ? currentPace(this.states.get(group) ?? { version: 0 }, limits.perSecond) : limits.perSecond;
      for (const { id, queue } of queues) {
        const own = this.deps.config.newsletters.find((n) => n.id === id)?.rateLimit.perSecond;
        const rate = pace === undefined ? undefined : Math.min(shareOf(pace, sharers), own ?? Infinity);
        const connections = limits.connections === undefined ? undefined : Math.max(1, Math.floor(shareOf(limits.connections, sharers)));
        const rateLimit = rate === undefined ? undefined : queueRateLimit(rate);
        const key = `${rateLimit ? `${rateLimit.max}/${rateLimit.duration}` : '-'}|${connections ?? '-'}`;
        const last = this.applied.get(queue.name);
        if (last?.limit === key && now - last.at < reassertMs) continue;
        if (rateLimit) await queue.setGlobalRateLimit(rateLimit.max, rateLimit.duration);
        else await queue.removeGlobalRateLimit();
        if (connections !== undefined) await queue.setGlobalConcurrency(connections);
        else await queue.removeGlobalConcurrency();
        this.applied.set(queue.name, { limit: key, at: now });
      }
    }
  }

  /** The group has work: a ramp starts if it was idle (logged once, by whichever process starts it), else its activity is noted. */
  private async noteActivity(group: string, full: number, rampFrom: number | undefined): Promise<void> {
    const idleMs = this.deps.config.pacing.idleMinutes * 60_000;
    const known = this.states.get(group) ?? { version: 0 };
    if (!afterActivity(known, full, rampFrom, idleMs, this.deps.clock.now().getTime())) return;
    let ramped = false;
    const after = await this.change(group, (s) => {
      const next = afterActivity(s, full, rampFrom, idleMs, this.deps.clock.now().getTime());
      ramped = next !== undefined && next.pace !== s.pace && next.pace === rampFrom;
      return next;
    });
    if (ramped && after?.pace === rampFrom) this.deps.logger.info({ group, pace: rampFrom, fullPace: full }, `${group} starts at ${formatPace(rampFrom as number)} messages/s after a quiet spell and climbs to ${formatPace(full)} (no burst at the top of the hour)`);
  }

  /** Writes the counts held in memory (sent and deferred per edition and group). */
  async flush(): Promise<void> {
    if (this.counts.size === 0) return;
    const counts = new Map(this.counts);
    this.counts.clear();
    await this.deps.paceStore.addCounts(counts).catch((err: unknown) => this.deps.logger.warn({ err }, 'could not record pacing counts; sending is unaffected'));
  }
}

/** 12.5 -> "12.5", 300 -> "300" */
export function formatPace(perSecond: number): string {
  return perSecond >= 10 ? String(Math.round(perSecond)) : String(Math.round(perSecond * 10) / 10);
}
