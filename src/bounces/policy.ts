/** Applies bounce and complaint events, each once: attribute, decide (decide.ts), carry out, log, and check the breaker. */
import type { BouncesConfig } from '../config/bounces-schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { EditionStore } from '../delivery/edition-store';
import type { FailureDetail } from '../delivery/outcomes';
import type { SubscriberStore } from '../subscribers/store';
import { attribute, type AttributionDeps } from './attribution';
import type { BounceStore } from './bounce-store';
import { breakerTrip } from './breaker';
import { decide, ignoredBecause } from './decide';
import { describeActions, type Attributed, type BounceAction, type BounceEvent, type BounceLogEntry, type RecordOutcome } from './events';
import { classifyReason, isHardReason, senderFaultReasons } from './reason';

export interface BouncePolicyDeps extends AttributionDeps {
  bounces: Pick<BounceStore, 'markApplied' | 'forgetApplied' | 'addSoftBounce' | 'appendLog'>;
  editions: AttributionDeps['editions'] & Pick<EditionStore, 'countBounce' | 'get' | 'markBreakerTripped'>;
  subscribers: AttributionDeps['subscribers'] & Pick<SubscriberStore, 'hashOf' | 'isSuppressed' | 'suppress' | 'unsubscribe' | 'recordHistory'>;
  /** The same pause ops use (edition state and queue); false when the edition was no longer sending. */
  pauseEdition(editionId: string, options: { by: string; reason: string; evidence: Record<string, unknown> }): Promise<boolean>;
  clock: Clock;
  logger: Logger;
  config: AttributionDeps['config'] & { bounces: BouncesConfig };
}

/** A refusal at send time, as the transport reported it. */
export interface SendFailureInput {
  editionId: string;
  subscriberId: string;
  email: string;
  failure: FailureDetail;
  at: Date;
}

/**
 * The bounce and complaint policy at work: each event, from any way in, is applied once: edition
 * counts, the soft-bounce window, suppression with reason and evidence, unsubscribing on
 * complaints, the reader's history, the bounce log, and the circuit breaker.
 */
export class BouncePolicy {
  constructor(private readonly deps: BouncePolicyDeps) {}

  private get settings(): BouncesConfig {
    return this.deps.config.bounces;
  }

  /** Applies an event once; a repeat (same id within the dedupe window) changes nothing. */
  async record(event: BounceEvent): Promise<RecordOutcome> {
    const { bounces } = this.deps;
    const fresh = await bounces.markApplied(event.id, event.at, this.settings.dedupeDays * 86_400);
    if (!fresh) {
      return { eventId: event.id, duplicate: true, kind: event.kind, email: event.email, attribution: event.hints.send ? 'send' : 'none', editionId: event.hints.send?.editionId, subscriberId: event.hints.send?.subscriberId, suppressed: false, unsubscribed: false, actions: [] };
    }
    try {
      return await this.apply(event);
    } catch (error) {
      // Not applied: forget the id so the provider's (or MTA's) retry gets another chance.
      await bounces.forgetApplied(event.id);
      throw error;
    }
  }

  /**
   * A send that failed for good: a bounce said at SMTP time. Connection and TLS trouble is ours,
   * not the reader's, and is never counted; a temporary refusal that lasted through every retry
   * is a soft bounce.
   */
  async recordSendFailure(input: SendFailureInput): Promise<RecordOutcome | undefined> {
    const { failure } = input;
    if (failure.kind === 'connection') return undefined;
    const reason = classifyReason({ status: failure.status, replyCode: failure.replyCode, diagnostic: failure.diagnostic, command: failure.command ?? 'RCPT' });
    const hard = failure.kind === 'permanent' && isHardReason(reason, failure.status, failure.replyCode);
    return this.record({
      id: `smtp:${input.editionId}:${input.subscriberId}`,
      source: 'smtp',
      kind: hard ? 'hard' : 'soft',
      email: input.email,
      hints: { send: { editionId: input.editionId, subscriberId: input.subscriberId }, verpAddresses: [], messageIds: [] },
      status: failure.status,
      replyCode: failure.replyCode,
      diagnostic: failure.diagnostic,
      reason,
      senderFault: senderFaultReasons.has(reason),
      at: input.at,
    });
  }

  private async apply(event: BounceEvent): Promise<RecordOutcome> {
    const { deps } = this;
    const who = await attribute(deps, event);
    const soft = event.kind === 'soft' && !ignoredBecause(event, who);
    const [alreadySuppressed, reader, softBounces] = await Promise.all([
      deps.subscribers.isSuppressed(who.email),
      who.subscriberId ? deps.subscribers.get(who.subscriberId) : undefined,
      soft ? deps.bounces.addSoftBounce(deps.subscribers.hashOf(who.email), who.editionId ?? event.id, event.at, this.settings.softBounceWindowDays * 86_400_000) : undefined,
    ]);
    const decision = decide(event, who, { alreadySuppressed, readerSubscribed: Boolean(reader && reader.status !== 'unsubscribed'), softBounces }, this.settings);
    const outcome: RecordOutcome = { eventId: event.id, duplicate: false, kind: event.kind, ...who, suppressed: false, unsubscribed: false, actions: decision.actions };
    if (decision.ignore) {
      outcome.ignored = decision.ignore;
      await this.log(event, who, decision.actions);
      deps.logger.info({ event: event.id, email: who.email }, 'bounce ignored: not attributable to a copy we sent');
      return outcome;
    }
    if (softBounces) outcome.softCount = softBounces.length;
    const evidence = {
      eventId: event.id, source: event.source, editionId: who.editionId, status: event.status, replyCode: event.replyCode,
      diagnostic: event.diagnostic?.slice(0, 500), reason: event.reason, feedbackType: event.feedbackType, attribution: who.attribution,
    };
    if (decision.editionFlags && who.editionId && who.subscriberId) await deps.editions.countBounce(who.editionId, who.subscriberId, decision.editionFlags);
    if (decision.suppress) {
      await deps.subscribers.suppress(who.email, { reason: decision.suppress.reason, source: event.source, at: event.at.toISOString(), evidence: { ...evidence, ...decision.suppress.evidence } });
      outcome.suppressed = true;
    }
    if (decision.unsubscribe && who.subscriberId) {
      await deps.subscribers.unsubscribe(who.subscriberId, { reason: decision.unsubscribe.reason, now: event.at });
      outcome.unsubscribed = true;
    }
    if (decision.checkBreaker && who.editionId) {
      outcome.paused = await this.checkBreaker(who.editionId);
      if (outcome.paused) decision.actions.push({ type: 'paused-edition', reason: outcome.paused });
    }
    const action = describeActions(decision.actions);
    if (who.subscriberId) {
      const name = event.kind === 'complaint' ? 'complained' : event.kind === 'unsubscribe' ? 'unsubscribed-at-provider' : `bounced-${event.kind}`;
      await deps.subscribers.recordHistory(who.subscriberId, event.at, name, { ...evidence, action });
    }
    await this.log(event, who, decision.actions);
    deps.logger.info({ event: event.id, kind: event.kind, source: event.source, editionId: who.editionId, subscriberId: who.subscriberId, attribution: who.attribution, action }, 'bounce recorded');
    return outcome;
  }

  private async log(event: BounceEvent, who: Attributed, actions: BounceAction[]): Promise<void> {
    const entry: BounceLogEntry = {
      id: event.id, at: event.at.toISOString(), source: event.source, kind: event.kind, ...who,
      status: event.status, replyCode: event.replyCode, reason: event.reason, diagnostic: event.diagnostic?.replace(/\s+/g, ' ').slice(0, 300), feedbackType: event.feedbackType,
      actions, action: describeActions(actions),
    };
    await this.deps.bounces.appendLog(entry, this.settings.logRetentionDays);
  }

  /** Pauses the edition if its rates say stop (breaker.ts), once per edition; returns the reason when it did. */
  private async checkBreaker(editionId: string): Promise<string | undefined> {
    const { deps } = this;
    const edition = await deps.editions.get(editionId);
    const trip = edition ? breakerTrip(edition, this.settings.breaker) : undefined;
    if (!trip) return undefined;
    if (!(await deps.editions.markBreakerTripped(editionId, deps.clock.now()))) return undefined;
    if (!(await deps.pauseEdition(editionId, { by: 'circuit-breaker', reason: trip.reason, evidence: trip.evidence }))) return undefined;
    deps.logger.warn({ editionId, reason: trip.reason }, 'edition paused by the bounce circuit breaker');
    return trip.reason;
  }
}
