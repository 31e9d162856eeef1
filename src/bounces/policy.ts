import { EditionControlError, pauseEdition } from '../ops/control';
import type { Runtime } from '../delivery/runtime';
import type { SubscriberEvent } from '../subscribers/store';
import type { Attribution, BounceEvent, RecordOutcome } from './events';
import { classifyReason, isHardReason, senderFaultReasons } from './reason';
import type { SmtpFailure } from './smtp-reply';


/** One line of the bounce log (what `daybreak bounces` reports). */
export interface BounceLogEntry {
  id: string;
  at: string;
  source: BounceEvent['source'];
  kind: BounceEvent['kind'];
  email: string;
  subscriberId?: string;
  editionId?: string;
  attribution: Attribution;
  status?: string;
  replyCode?: number;
  reason?: string;
  diagnostic?: string;
  feedbackType?: string;
  /** What the policy did: suppressed, unsubscribed, counted, ignored. */
  action: string;
}

/** How many recent editions to look through for the one a bounce without other attribution belongs to. */
const recentEditionsToSearch = 10;

/**
 * The bounce and complaint policy: each event, from any way in, is applied once: edition counts,
 * the per-address soft-bounce window, suppression with reason and evidence, unsubscribing on
 * complaints, the bounce log, and the circuit breaker that pauses an edition gone bad.
 */
export class BouncePolicy {
  constructor(private readonly runtime: Runtime) {}

  private get settings() {
    return this.runtime.config.bounces;
  }

  /** Applies an event once; a repeat (same id within the dedupe window) changes nothing. */
  async record(event: BounceEvent): Promise<RecordOutcome> {
    const { runtime } = this;
    const { keys, redis } = runtime;
    const ttl = this.settings.dedupeDays * 86_400;
    const fresh = await redis.set(keys.bounceSeen(event.id), event.at.toISOString(), 'EX', ttl, 'NX');
    const base = { eventId: event.id, kind: event.kind, email: event.email, suppressed: false, unsubscribed: false };
    if (fresh !== 'OK') return { ...base, duplicate: true, attribution: event.attribution ?? 'none', editionId: event.editionId, subscriberId: event.subscriberId };
    try {
      return await this.apply(event);
    } catch (error) {
      // Not applied: forget the id so the provider's (or MTA's) retry gets another chance.
      await redis.del(keys.bounceSeen(event.id));
      throw error;
    }
  }

  private async apply(event: BounceEvent): Promise<RecordOutcome> {
    const { runtime } = this;
    const who = await this.attribute(event);
    const email = who.email;
    // A DSN is unauthenticated mail: tied to nothing we sent (no VERP token, no Message-ID of ours,
    // no recent copy to that address) it could be anyone's forgery or another sender's bounce.
    if (event.source === 'dsn' && !who.editionId) {
      const ignored = 'no copy of ours was sent to this address recently';
      await this.log(event, who, `ignored: ${ignored}`);
      runtime.logger.info({ event: event.id, email }, 'bounce ignored: not attributable to a copy we sent');
      return { eventId: event.id, duplicate: false, kind: event.kind, email, subscriberId: who.subscriberId, attribution: who.attribution, suppressed: false, unsubscribed: false, ignored };
    }
    const outcome: RecordOutcome = { eventId: event.id, duplicate: false, kind: event.kind, email, subscriberId: who.subscriberId, editionId: who.editionId, attribution: who.attribution, suppressed: false, unsubscribed: false };
    const evidence = {
      eventId: event.id, source: event.source, editionId: who.editionId, status: event.status, replyCode: event.replyCode,
      diagnostic: event.diagnostic?.slice(0, 500), reason: event.reason, feedbackType: event.feedbackType, attribution: who.attribution,
    };
    const actions: string[] = [];

    if (who.editionId && who.subscriberId && event.kind !== 'delayed' && event.kind !== 'unsubscribe') {
      const flags = event.kind === 'complaint' ? 'c' : event.kind === 'hard' ? 'bh' : event.senderFault ? 'bx' : 'b';
      await runtime.editions.countBounce(who.editionId, who.subscriberId, flags);
    }

    switch (event.kind) {
      case 'hard':
        if (this.settings.suppressOnHardBounce) {
          outcome.suppressed = await this.suppress(email, 'hard bounce', event, evidence);
          actions.push(outcome.suppressed ? 'suppressed' : 'already suppressed');
        } else actions.push('counted');
        break;
      case 'soft': {
        const { count, members } = await this.countSoft(email, who.editionId ?? event.id, event.at);
        outcome.softCount = count;
        actions.push(`soft ${count}/${this.settings.softBounceLimit}`);
        if (count >= this.settings.softBounceLimit) {
          outcome.suppressed = await this.suppress(email, `${count} soft bounces within ${this.settings.softBounceWindowDays} days`, event, { ...evidence, softBounces: members });
          if (outcome.suppressed) actions.push('suppressed');
        }
        break;
      }
      case 'complaint':
        if (event.feedbackType === 'opt-out') {
          outcome.unsubscribed = await this.unsubscribe(who.subscriberId, 'opt-out report', event.at);
          actions.push(outcome.unsubscribed ? 'unsubscribed' : 'not subscribed');
          break;
        }
        outcome.suppressed = await this.suppress(email, 'spam complaint', event, evidence);
        if (this.settings.complaintUnsubscribes) outcome.unsubscribed = await this.unsubscribe(who.subscriberId, 'spam complaint', event.at);
        actions.push(outcome.suppressed ? 'suppressed' : 'already suppressed', ...(outcome.unsubscribed ? ['unsubscribed'] : []));
        break;
      case 'unsubscribe':
        outcome.unsubscribed = await this.unsubscribe(who.subscriberId, `unsubscribed through ${event.source}`, event.at);
        actions.push(outcome.unsubscribed ? 'unsubscribed' : 'not subscribed');
        break;
      case 'delayed':
        actions.push('logged (delivery still being retried)');
        break;
    }

    if (who.subscriberId) {
      const entry: SubscriberEvent = { at: event.at.toISOString(), event: event.kind === 'complaint' ? 'complained' : event.kind === 'unsubscribe' ? 'unsubscribed-at-provider' : `bounced-${event.kind}`, detail: { ...evidence, action: actions.join(', ') } };
      await runtime.redis.rpush(runtime.keys.subscriberHistory(who.subscriberId), JSON.stringify(entry));
    }
    await this.log(event, who, actions.join(', '));

    if (who.editionId && (event.kind === 'hard' || event.kind === 'complaint' || (event.kind === 'soft' && event.senderFault))) {
      outcome.paused = await this.checkBreaker(who.editionId);
    }
    runtime.logger.info({ event: event.id, kind: event.kind, source: event.source, editionId: who.editionId, subscriberId: who.subscriberId, attribution: who.attribution, action: actions.join(', ') }, 'bounce recorded');
    return outcome;
  }

  /**
   * Which reader and edition the event is about. A VERP token or the send itself is trusted; a
   * Message-ID only when the ledger shows that exact copy was sent to that reader (Message-IDs
   * carry a random nonce, so a forged report cannot name someone else's copy); otherwise the
   * address finds the reader and their most recent edition.
   */
  private async attribute(event: BounceEvent): Promise<{ email: string; subscriberId?: string; editionId?: string; attribution: Attribution }> {
    const { subscribers, editions } = this.runtime;
    let attribution: Attribution = event.attribution ?? 'address';
    let { editionId, subscriberId } = event;
    if (attribution === 'message-id' && editionId && subscriberId) {
      const entry = await editions.ledgerEntry(editionId, subscriberId);
      if (!(entry?.kind === 'sent' && event.messageId && entry.detail === event.messageId)) {
        editionId = undefined;
        subscriberId = undefined;
        attribution = 'address';
      }
    }
    if (subscriberId) {
      const sub = await subscribers.get(subscriberId);
      if (sub) return { email: sub.email, subscriberId, editionId, attribution };
      subscriberId = undefined;
    }
    const email = event.email.trim().toLowerCase();
    subscriberId = await subscribers.findIdByEmail(email);
    if (!subscriberId) return { email, attribution: 'none', editionId };
    if (!editionId) {
      editionId = await this.recentEditionSentTo(subscriberId, event.at);
      attribution = editionId ? (event.attribution === 'metadata' ? 'metadata' : 'recent-send') : 'address';
    }
    return { email, subscriberId, editionId, attribution };
  }

  /** The newest of the recent editions whose ledger shows a copy sent to the reader before `at`. */
  private async recentEditionSentTo(subscriberId: string, at: Date): Promise<string | undefined> {
    const { editions } = this.runtime;
    for (const id of await editions.idsScheduledBefore(at, recentEditionsToSearch)) {
      const entry = await editions.ledgerEntry(id, subscriberId);
      if (entry?.kind === 'sent' && (entry.at?.getTime() ?? Infinity) <= at.getTime() + 60_000) return id;
    }
    return undefined;
  }

  private async countSoft(email: string, member: string, at: Date): Promise<{ count: number; members: string[] }> {
    const { redis, keys, subscribers } = this.runtime;
    const key = keys.softBounces(subscribers.hashOf(email));
    const windowMs = this.settings.softBounceWindowDays * 86_400_000;
    const reply = await redis.multi()
      .zadd(key, at.getTime(), member)
      .zremrangebyscore(key, '-inf', String(at.getTime() - windowMs))
      .zrange(key, '0', '-1')
      .pexpire(key, windowMs)
      .exec();
    const members = (reply?.[2]?.[1] as string[] | undefined) ?? [];
    return { count: members.length, members };
  }

  /** Suppresses unless already suppressed (the first reason and its evidence are kept). */
  private async suppress(email: string, reason: string, event: BounceEvent, evidence: Record<string, unknown>): Promise<boolean> {
    const { subscribers } = this.runtime;
    if (await subscribers.isSuppressed(email)) return false;
    await subscribers.suppress(email, { reason, source: event.source, at: event.at.toISOString(), evidence });
    return true;
  }

  private async unsubscribe(subscriberId: string | undefined, reason: string, at: Date): Promise<boolean> {
    if (!subscriberId) return false;
    const sub = await this.runtime.subscribers.get(subscriberId);
    if (!sub || sub.status === 'unsubscribed') return false;
    await this.runtime.subscribers.unsubscribe(subscriberId, { reason, now: at });
    return true;
  }

  private async log(event: BounceEvent, who: { email: string; subscriberId?: string; editionId?: string; attribution: Attribution }, action: string): Promise<void> {
    const { redis, keys } = this.runtime;
    const entry: BounceLogEntry = {
      id: event.id, at: event.at.toISOString(), source: event.source, kind: event.kind, email: who.email, subscriberId: who.subscriberId, editionId: who.editionId,
      attribution: who.attribution, status: event.status, replyCode: event.replyCode, reason: event.reason, diagnostic: event.diagnostic?.replace(/\s+/g, ' ').slice(0, 300), feedbackType: event.feedbackType, action,
    };
    const cutoff = event.at.getTime() - this.settings.logRetentionDays * 86_400_000;
    await redis.multi().zadd(keys.bounceLog(), event.at.getTime(), JSON.stringify(entry)).zremrangebyscore(keys.bounceLog(), '-inf', String(cutoff)).exec();
  }

  /**
   * Pauses a sending edition whose hard-bounce (plus blocking) or complaint rate passed its
   * threshold once enough sends were attempted. Trips once per edition: after ops resume it, the
   * same edition is not paused again for the same numbers.
   */
  private async checkBreaker(editionId: string): Promise<string | undefined> {
    const { breaker } = this.settings;
    if (!breaker.enabled) return undefined;
    const { editions, clock, logger } = this.runtime;
    const edition = await editions.get(editionId);
    if (!edition || edition.state !== 'sending' || edition.breakerTrippedAt) return undefined;
    const { sent, failed, bouncedHard: hard, blocked, complaints } = edition;
    const attempted = sent + failed;
    if (attempted < breaker.minSends) return undefined;
    const bad = hard + blocked;
    const bounceRate = bad / attempted;
    const complaintRate = complaints / attempted;
    const pct = (r: number) => `${(r * 100).toFixed(r < 0.01 ? 2 : 1)}%`;
    let reason: string | undefined;
    if (bounceRate > breaker.bounceRate) {
      reason = `circuit breaker: hard-bounce rate ${pct(bounceRate)} (${bad} of ${attempted} sends, blocks included) passed ${pct(breaker.bounceRate)}; check the last import and the blocklists before resuming`;
    } else if (complaintRate > breaker.complaintRate) {
      reason = `circuit breaker: complaint rate ${pct(complaintRate)} (${complaints} of ${attempted} sends) passed ${pct(breaker.complaintRate)}; check where these readers came from before resuming`;
    }
    if (!reason) return undefined;
    if (!(await editions.markBreakerTripped(editionId, clock.now()))) return undefined;
    // The same pause ops use: the edition's state and its newsletter's queue, so workers go quiet
    // instead of re-delaying every queued job while it waits.
    try {
      const evidence = { attempted, hardBounces: hard, blocked, complaints };
      if ((await pauseEdition(this.runtime, editionId, { by: 'circuit-breaker', reason, evidence })).unchanged) return undefined;
    } catch (error) {
      if (error instanceof EditionControlError) return undefined; // no longer sending: nothing to stop
      throw error;
    }
    logger.warn({ editionId, reason }, 'edition paused by the bounce circuit breaker');
    return reason;
  }

  /**
   * A send that failed for good: a bounce said at SMTP time. Connection and TLS trouble is ours,
   * not the reader's, and is never counted; a temporary refusal that lasted through every retry
   * is a soft bounce.
   */
  async recordSendFailure(input: { editionId: string; subscriberId: string; email: string; failure: SmtpFailure; at: Date }): Promise<RecordOutcome | undefined> {
    const { failure } = input;
    if (failure.kind === 'connection') return undefined;
    const reason = classifyReason({ status: failure.status, replyCode: failure.replyCode, diagnostic: failure.diagnostic, command: failure.command ?? 'RCPT' });
    const hard = failure.kind === 'permanent' && isHardReason(reason, failure.status, failure.replyCode);
    return this.record({
      id: `smtp:${input.editionId}:${input.subscriberId}`,
      source: 'smtp',
      kind: hard ? 'hard' : 'soft',
      email: input.email,
      editionId: input.editionId,
      subscriberId: input.subscriberId,
      attribution: 'send',
      status: failure.status,
      replyCode: failure.replyCode,
      diagnostic: failure.diagnostic,
      reason,
      senderFault: senderFaultReasons.has(reason),
      at: input.at,
    });
  }
}
