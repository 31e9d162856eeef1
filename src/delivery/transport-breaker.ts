/**
 * The transport circuit breaker: when most sends cannot reach the mail relay, every worker of the
 * install stops sending until a probe gets through, so an outage of our own relay is waited out
 * instead of being charged to readers.
 */
import os from 'node:os';
import path from 'node:path';
import type Redis from 'ioredis';
import type { DeliveryConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Keys } from '../core/keys';
import type { Logger } from '../core/logger';
import { loadLuaScript } from '../core/lua-script';
import type { MailTransport, SmtpFailure } from '../mail/transports';

const luaDir = path.join(__dirname, 'lua');
const scripts = {
  trip: loadLuaScript(luaDir, 'breaker-trip-1.lua'),
  probe: loadLuaScript(luaDir, 'breaker-probe-1.lua'),
  close: loadLuaScript(luaDir, 'breaker-close-1.lua'),
};

export interface TransportBreakerState {
  open: boolean;
  /** When it opened (the current or the last outage). */
  since?: Date;
  /** When the last outage ended (closed breaker only). */
  closedAt?: Date;
  lastError?: string;
  /** When the next probe is due (open breaker only). */
  nextProbeAt?: Date;
  /** Probes made in this outage. */
  probes: number;
  /** The process that tripped it (host:pid). */
  by?: string;
}

const closedState: TransportBreakerState = { open: false, probes: 0 };

/** Owner of the breaker's key (`<p>:transport:breaker`): one hash every worker reads. */
export class TransportBreakerStore {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  async get(): Promise<TransportBreakerState> {
    const h = await this.redis.hgetall(this.keys.transportBreaker());
    if (!h.state) return closedState;
    const date = (v: string | undefined) => (v ? new Date(Number(v)) : undefined);
    return { open: h.state === 'open', since: date(h.since), closedAt: date(h.closedAt), lastError: h.lastError || undefined, nextProbeAt: h.state === 'open' ? date(h.nextProbeAt) : undefined, probes: Number(h.probes ?? 0), by: h.by || undefined };
  }

  /** Opens it (or notes the latest error when open already); true when this call opened it. */
  async trip(now: Date, firstProbeAt: Date, error: string, by: string): Promise<boolean> {
    return (await scripts.trip.run(this.redis, [this.keys.transportBreaker()], [now.getTime(), firstProbeAt.getTime(), error.slice(0, 300), by])) === 1;
  }

  /** 'probe' when this caller is the one to probe now (the next probe moves to `nextProbeAt`). */
  async takeProbe(now: Date, nextProbeAt: Date): Promise<'closed' | 'wait' | 'probe'> {
    return (await scripts.probe.run(this.redis, [this.keys.transportBreaker()], [now.getTime(), nextProbeAt.getTime()])) as 'closed' | 'wait' | 'probe';
  }

  /** A probe reached the relay; true when this call closed it. */
  async close(now: Date): Promise<boolean> {
    return (await scripts.close.run(this.redis, [this.keys.transportBreaker()], [now.getTime()])) === 1;
  }
}

export interface TransportBreakerDeps {
  transportBreaker: Pick<TransportBreakerStore, 'get' | 'trip' | 'takeProbe' | 'close'>;
  transport: Pick<MailTransport, 'verify' | 'description'>;
  clock: Clock;
  logger: Logger;
  config: { delivery: Pick<DeliveryConfig, 'transportBreaker'> };
}

/** What a send should do now: go ahead, or wait (the relay is unreachable) and look again in `retryInMs`. */
export type BreakerGate = { kind: 'closed' } | { kind: 'open'; state: TransportBreakerState; retryInMs: number };

/** How long a worker trusts the breaker state it read: the send path reads Redis at most once a second for it. */
const cacheMs = 1000;
/** Outcomes older than this do not count towards tripping. */
const sampleWindowMs = 60_000;
const sampleMax = 500;
/** The longest a queue waits before a job looks at the breaker again (it may have closed in another process). */
const maxWaitMs = 5000;

/**
 * One per sending process. Sends report their outcome here in memory (no Redis on the hot path);
 * when most of the last minute's sends failed at the connection level, from enough different
 * readers that it is not one reader's server, it trips the shared breaker in Redis. Every send
 * first asks `gate()`, which reads the shared state at most once a second; while it is open one
 * worker of the install at a time probes the relay (transport.verify) and closes it when it answers.
 */
export class TransportBreaker {
  private samples: Array<{ at: number; subscriberId?: string; connection: boolean }> = [];
  private lastConnectionFailureAt = -Infinity;
  private cached?: { readAt: number; state: Promise<TransportBreakerState> };
  private readonly who = `${os.hostname()}:${process.pid}`;

  constructor(private readonly deps: TransportBreakerDeps) {}

  private get settings(): DeliveryConfig['transportBreaker'] {
    return this.deps.config.delivery.transportBreaker;
  }

  /** The shared state, read at most once a second. */
  state(): Promise<TransportBreakerState> {
    const now = performance.now();
    if (!this.cached || now - this.cached.readAt > cacheMs) {
      const state = this.deps.transportBreaker.get();
      state.catch(() => { this.cached = undefined; });
      this.cached = { readAt: now, state };
    }
    return this.cached.state;
  }

  private remember(state: TransportBreakerState): void {
    this.cached = { readAt: performance.now(), state: Promise.resolve(state) };
  }

  private sample(connection: boolean, subscriberId?: string): void {
    const at = performance.now();
    this.samples.push({ at, subscriberId, connection });
    if (connection) this.lastConnectionFailureAt = at;
    // Amortised: drop the older half when full, and what fell out of the window when it did.
    if (this.samples.length > sampleMax) this.samples = this.samples.slice(-sampleMax / 2);
    let old = 0;
    while (old < this.samples.length && (this.samples[old] as { at: number }).at < at - sampleWindowMs) old += 1;
    if (old) this.samples.splice(0, old);
  }

  /** The relay answered (took the message, or refused it for the reader's own reasons). In memory only. */
  recordAnswered(): void {
    // Nothing to weigh while no connection failure is recent: the usual case costs nothing.
    if (this.samples.length === 0) return;
    if (this.lastConnectionFailureAt < performance.now() - sampleWindowMs) {
      this.samples = [];
      return;
    }
    this.sample(false);
  }

  /** A send failed at the connection level; trips the shared breaker when most recent sends did. */
  async recordConnectionFailure(subscriberId: string, failure: SmtpFailure): Promise<void> {
    this.sample(true, subscriberId);
    const failed = this.samples.filter((s) => s.connection);
    const readers = new Set(failed.map((s) => s.subscriberId)).size;
    if (readers < this.settings.minFailures || failed.length / this.samples.length <= this.settings.failureRatio) return;
    this.samples = [];
    const now = this.deps.clock.now();
    const error = failure.diagnostic || 'connection failed';
    const opened = await this.deps.transportBreaker.trip(now, new Date(now.getTime() + this.settings.probeIntervalMs), error, this.who);
    this.remember({ open: true, since: now, lastError: error, nextProbeAt: new Date(now.getTime() + this.settings.probeIntervalMs), probes: 0, by: this.who });
    if (opened) {
      this.deps.logger.warn({ transport: this.deps.transport.description, err: error, readers }, `the mail relay is unreachable (${error}); sending is paused for every newsletter and the relay is probed every ${Math.round(this.settings.probeIntervalMs / 1000)} s; no reader is charged`);
    }
  }

  /**
   * Before a send: go ahead while the breaker is closed. While it is open, the caller whose turn it
   * is probes the relay: when it answers the breaker closes and the send goes ahead.
   */
  async gate(): Promise<BreakerGate> {
    const state = await this.state();
    if (!state.open) return { kind: 'closed' };
    const now = this.deps.clock.now();
    const interval = this.settings.probeIntervalMs;
    const turn = await this.deps.transportBreaker.takeProbe(now, new Date(now.getTime() + interval));
    if (turn === 'closed') {
      this.remember(closedState);
      return { kind: 'closed' };
    }
    if (turn === 'probe') {
      try {
        await this.deps.transport.verify();
        const closedAt = this.deps.clock.now();
        if (await this.deps.transportBreaker.close(closedAt)) {
          this.deps.logger.info({ transport: this.deps.transport.description, since: state.since?.toISOString() }, 'the mail relay answers again; sending resumes');
        }
        this.samples = [];
        this.remember({ ...closedState, since: state.since, closedAt });
        return { kind: 'closed' };
      } catch (error) {
        const message = ((error as Error).message || String(error)).replace(/\s+/g, ' ').slice(0, 300);
        await this.deps.transportBreaker.trip(now, new Date(now.getTime() + interval), message, this.who);
        this.deps.logger.debug({ err: message }, 'relay probe failed; sending stays paused');
        const next = { ...state, lastError: message, nextProbeAt: new Date(now.getTime() + interval), probes: state.probes + 1 };
        this.remember(next);
        return { kind: 'open', state: next, retryInMs: Math.min(interval, maxWaitMs) };
      }
    }
    const fresh = await this.deps.transportBreaker.get();
    this.remember(fresh);
    if (!fresh.open) return { kind: 'closed' };
    const due = (fresh.nextProbeAt?.getTime() ?? now.getTime()) - now.getTime();
    return { kind: 'open', state: fresh, retryInMs: Math.max(100, Math.min(due, interval, maxWaitMs)) };
  }
}
