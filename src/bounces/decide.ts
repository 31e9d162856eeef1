/** The bounce and complaint policy as a pure decision: what one event should change, given what is known. */
import type { BouncesConfig } from '../config/bounces-schema';
import type { Attributed, BounceAction, BounceEvent } from './events';

export type DecisionSettings = Pick<BouncesConfig, 'suppressOnHardBounce' | 'softBounceLimit' | 'softBounceWindowDays' | 'complaintUnsubscribes'>;

/** What the executor read before deciding. */
export interface Circumstances {
  /** The address was suppressed before this event. */
  alreadySuppressed: boolean;
  /** The reader exists and has not unsubscribed. */
  readerSubscribed: boolean;
  /** For a soft bounce: the address's soft bounces within the window, this one included. */
  softBounces?: readonly string[];
}

export interface Decision {
  /** Nothing changes, for this reason (logged). */
  ignore?: string;
  /** Count the reader once against the edition (b bounced, h hard, x sender fault, c complaint). */
  editionFlags?: string;
  suppress?: { reason: string; evidence?: Record<string, unknown> };
  unsubscribe?: { reason: string };
  /** The edition's bounce or complaint rate may now trip the circuit breaker. */
  checkBreaker: boolean;
  /** What the changes amount to, as the log keeps it. */
  actions: BounceAction[];
}

/**
 * A DSN is unauthenticated mail: tied to nothing we sent (no VERP token, no Message-ID of ours, no
 * recent copy to that address) it could be anyone's forgery or another sender's bounce.
 */
export function ignoredBecause(event: Pick<BounceEvent, 'source'>, who: Pick<Attributed, 'editionId'>): string | undefined {
  return event.source === 'dsn' && !who.editionId ? 'no copy of ours was sent to this address recently' : undefined;
}

/** Pure: the same event, attribution, circumstances and settings always decide the same. */
export function decide(event: BounceEvent, who: Attributed, circumstances: Circumstances, settings: DecisionSettings): Decision {
  const ignore = ignoredBecause(event, who);
  if (ignore) return { ignore, checkBreaker: false, actions: [{ type: 'ignored', reason: ignore }] };
  const decision: Decision = { checkBreaker: false, actions: [] };
  if (who.editionId && who.subscriberId && event.kind !== 'delayed' && event.kind !== 'unsubscribe') {
    decision.editionFlags = event.kind === 'complaint' ? 'c' : event.kind === 'hard' ? 'bh' : event.senderFault ? 'bx' : 'b';
    decision.actions.push({ type: 'counted', flags: decision.editionFlags });
  }
  const suppress = (reason: string, evidence?: Record<string, unknown>) => {
    if (circumstances.alreadySuppressed) decision.actions.push({ type: 'already-suppressed' });
    else {
      decision.suppress = { reason, evidence };
      decision.actions.push({ type: 'suppressed', reason });
    }
  };
  const unsubscribe = (reason: string) => {
    if (who.subscriberId && circumstances.readerSubscribed) {
      decision.unsubscribe = { reason };
      decision.actions.push({ type: 'unsubscribed', reason });
    } else decision.actions.push({ type: 'not-subscribed' });
  };
  switch (event.kind) {
    case 'hard':
      if (settings.suppressOnHardBounce) suppress('hard bounce');
      break;
    case 'soft': {
      const members = circumstances.softBounces ?? [];
      decision.actions.push({ type: 'soft-counted', count: members.length, limit: settings.softBounceLimit });
      if (members.length >= settings.softBounceLimit && !circumstances.alreadySuppressed) {
        suppress(`${members.length} soft bounces within ${settings.softBounceWindowDays} days`, { softBounces: [...members] });
      }
      break;
    }
    case 'complaint':
      if (event.feedbackType === 'opt-out') {
        unsubscribe('opt-out report');
        break;
      }
      suppress('spam complaint');
      if (settings.complaintUnsubscribes && who.subscriberId && circumstances.readerSubscribed) {
        decision.unsubscribe = { reason: 'spam complaint' };
        decision.actions.push({ type: 'unsubscribed', reason: 'spam complaint' });
      }
      break;
    case 'unsubscribe':
      unsubscribe(`unsubscribed through ${event.source}`);
      break;
    case 'delayed':
      decision.actions.push({ type: 'delay-logged' });
      break;
  }
  decision.checkBreaker = Boolean(who.editionId) && (event.kind === 'hard' || event.kind === 'complaint' || (event.kind === 'soft' && Boolean(event.senderFault)));
  return decision;
}
