/** Where each provider group's pacing stands, for `status` and `/metrics`: its pace now, its counts, a pause. */
import { providerGroups, type PacingConfig } from '../config/pacing-schema';
import type { Clock } from '../core/clock';
import type { PaceStore } from '../delivery/pace-store';
import { currentPace, isPaused } from '../delivery/pacing';
import { otherGroup } from '../delivery/providers';

export interface ProviderPaceDeps {
  paceStore: Pick<PaceStore, 'states' | 'editionCounts' | 'totals'>;
  clock: Clock;
  config: { pacing: PacingConfig };
}

export interface ProviderPace {
  group: string;
  /** Messages the group accepted, and deferrals it answered (of the edition, or in all). */
  sent: number;
  deferred: number;
  /** Messages per second it is sent at now; absent: not paced (no limit). */
  pace?: number;
  /** Its configured pace (the most it gets). */
  fullPace?: number;
  /** Its share of in-flight messages, across every worker. */
  connections?: number;
  /** Since when it has kept deferring (no message accepted since). */
  deferringSince?: string;
  lastReply?: string;
  /** Nothing is sent to it until then. */
  pausedUntil?: string;
  pauseReason?: string;
}

/** Every group (the named ones, then `other`) with its counts: one edition's, or the install's since it began. */
export async function providerPaces(deps: ProviderPaceDeps, editionId?: string): Promise<ProviderPace[]> {
  const { pacing } = deps.config;
  const groups = [...providerGroups(pacing).map((g) => ({ id: g.id, perSecond: g.perSecond as number | undefined, connections: g.connections as number | undefined, adaptive: true })), { id: otherGroup, perSecond: pacing.other.perSecond, connections: pacing.other.connections, adaptive: false }];
  const [states, counts] = await Promise.all([deps.paceStore.states(groups.map((g) => g.id)), editionId ? deps.paceStore.editionCounts(editionId) : deps.paceStore.totals()]);
  const now = deps.clock.now().getTime();
  return groups.map((g) => {
    const state = states.get(g.id) ?? { version: 0 };
    const c = counts.get(g.id) ?? { sent: 0, deferred: 0 };
    const paused = isPaused(state, now);
    return {
      group: g.id,
      sent: c.sent,
      deferred: c.deferred,
      pace: g.perSecond === undefined ? undefined : paused ? 0 : g.adaptive ? currentPace(state, g.perSecond) : g.perSecond,
      fullPace: g.perSecond,
      connections: g.connections,
      deferringSince: state.deferringSince === undefined ? undefined : new Date(state.deferringSince).toISOString(),
      lastReply: state.lastReply,
      pausedUntil: paused ? new Date(state.pausedUntil as number).toISOString() : undefined,
      pauseReason: paused ? state.pauseReason : undefined,
    };
  });
}
