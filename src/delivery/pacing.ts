/**
 * How a provider group's pace adapts (pure): halve on a deferral that asks us to slow down, add back
 * a little every second after (additive increase, multiplicative decrease), pause a group that kept
 * deferring until an edition's window closed; and how a pace becomes a BullMQ queue limit.
 */

/** One group's pace as stored (pace-store.ts); every field but `version` absent means "full pace, all well". */
export interface PaceState {
  /** Messages per second now; absent: the group's full pace (its configured perSecond). */
  pace?: number;
  /** When the pace last changed (ms). */
  changedAt?: number;
  /** When it was last halved (ms): deferrals within the cooldown of it do not halve it again. */
  decreasedAt?: number;
  /** The first deferral since the group last accepted a message (ms): how long it has kept deferring. */
  deferringSince?: number;
  /** The last deferral's reply, for status. */
  lastReply?: string;
  /** Paused until (ms): nothing is sent to the group before then. */
  pausedUntil?: number;
  pausedAt?: number;
  pauseReason?: string;
  /** When a worker last saw messages queued for the group (ms), refreshed at most once a minute: how a ramp knows the group was idle. */
  activeAt?: number;
  /** Bumped by every change, so two processes never apply one change twice (compare-and-set). */
  version: number;
}

export interface PaceSettings {
  minPerSecond: number;
  recoverSeconds: number;
  deferralCooldownMs: number;
}

/** The pace the group is sent at now. */
export function currentPace(state: Pick<PaceState, 'pace'>, fullPace: number): number {
  return Math.min(state.pace ?? fullPace, fullPace);
}

export function isPaused(state: Pick<PaceState, 'pausedUntil'>, now: number): boolean {
  return state.pausedUntil !== undefined && state.pausedUntil > now;
}

/**
 * A deferral that signals rate: the streak starts (if it had not), and the pace halves, unless it
 * halved within the cooldown (replies to sends made at the old pace do not count twice).
 */
export function afterDeferral(state: PaceState, fullPace: number, settings: PaceSettings, now: number, reply: string): PaceState {
  const next: PaceState = { ...state, deferringSince: state.deferringSince ?? now, lastReply: reply.slice(0, 200) };
  if (state.decreasedAt !== undefined && now - state.decreasedAt < settings.deferralCooldownMs) return next;
  const halved = Math.max(settings.minPerSecond, currentPace(state, fullPace) / 2);
  return { ...next, pace: Math.min(halved, fullPace), changedAt: now, decreasedAt: now };
}

/** The group accepted a message: the streak of deferrals is over (the pace recovers on its own). */
export function afterAccepted(state: PaceState): PaceState | undefined {
  if (state.deferringSince === undefined) return undefined;
  const { deferringSince: _since, ...rest } = state;
  return rest;
}

/**
 * A second later: a slowed group gets back (full - min) / recoverSeconds messages per second for
 * every second since its pace last changed, up to its full pace; a pause that ran out lifts, and
 * the group starts again from the floor. Undefined when nothing changes.
 */
export function afterRecovery(state: PaceState, fullPace: number, settings: PaceSettings, now: number): PaceState | undefined {
  if (state.pausedUntil !== undefined) {
    if (state.pausedUntil > now) return undefined;
    const { pausedUntil: _u, pausedAt: _a, pauseReason: _r, deferringSince: _s, ...rest } = state;
    return { ...rest, pace: Math.min(settings.minPerSecond, fullPace), changedAt: now };
  }
  if (state.pace === undefined) return undefined;
  if (state.pace >= fullPace) {
    const { pace: _p, ...rest } = state;
    return { ...rest, changedAt: now };
  }
  const elapsed = now - (state.changedAt ?? now);
  if (elapsed < 1000) return undefined;
  const step = Math.max(0, fullPace - settings.minPerSecond) / settings.recoverSeconds;
  const pace = state.pace + (step * elapsed) / 1000;
  if (pace >= fullPace) {
    const { pace: _p, ...rest } = state;
    return { ...rest, changedAt: now };
  }
  return { ...state, pace, changedAt: now };
}

/** How often a busy group's `activeAt` is written again: idleness is judged in minutes. */
export const activeRefreshMs = 60_000;

/**
 * The group has messages queued. If it had none for `idleMs` (or never had any), it starts again
 * from its ramp pace, unless already slower, and climbs back like a recovering group; a busy group
 * only has its `activeAt` refreshed, once a minute. Undefined when nothing changes.
 */
export function afterActivity(state: PaceState, fullPace: number, rampFrom: number | undefined, idleMs: number, now: number): PaceState | undefined {
  const idle = state.activeAt === undefined || now - state.activeAt >= idleMs;
  if (!idle) return now - (state.activeAt as number) >= activeRefreshMs ? { ...state, activeAt: now } : undefined;
  if (rampFrom === undefined || isPaused(state, now) || currentPace(state, fullPace) <= rampFrom) return { ...state, activeAt: now };
  return { ...state, activeAt: now, pace: rampFrom, changedAt: now };
}

/** Pauses the group until `until`, with the reason ops are shown. */
export function paused(state: PaceState, now: number, until: number, reason: string): PaceState {
  return { ...state, pausedAt: now, pausedUntil: until, pauseReason: reason.slice(0, 300) };
}

/**
 * A pace as BullMQ's queue rate limit (max jobs per duration): whole messages per second, or one
 * message every so many milliseconds below one a second.
 */
export function queueRateLimit(perSecond: number): { max: number; duration: number } {
  if (perSecond >= 1) return { max: Math.max(1, Math.floor(perSecond)), duration: 1000 };
  return { max: 1, duration: Math.min(3_600_000, Math.round(1000 / perSecond)) };
}

/** A group's limits split between the newsletters sending to it now, so together they keep to the group's. */
export function shareOf(limit: number, sharers: number): number {
  return limit / Math.max(1, sharers);
}
