/**
 * One bounce, complaint or delay, however it arrived (SMTP reply at send time, a DSN to the VERP
 * mailbox, an ESP webhook), in the one shape the policy applies, and what applying it did.
 */
export type BounceSource = 'smtp' | 'dsn' | 'ses' | 'sendgrid' | 'postmark' | 'mailgun' | 'manual';

/**
 * hard: the address is gone (suppress at once). soft: this message failed for good, for a reason
 * that may pass (counted; suppress after N in a window). delayed: still being retried (logged,
 * never counted). complaint: the reader reported spam. unsubscribe: the reader opted out through
 * the provider.
 */
export type BounceEventKind = 'hard' | 'soft' | 'delayed' | 'complaint' | 'unsubscribe';

/** How the event found its edition and reader, strongest first. */
export type Attribution = 'send' | 'verp' | 'message-id' | 'recent-send' | 'address' | 'none';

/**
 * The clues every way in passes on, unjudged: one function (attribution.ts) decides what they
 * prove, so a DSN and a webhook naming the same copy are attributed alike.
 */
export interface AttributionHints {
  /** The send itself was refused (SMTP reply at send time): edition and reader known for certain. */
  send?: { editionId: string; subscriberId: string };
  /** VERP addresses the report carries (the bounce's recipient, our envelope sender, one quoted in it); trusted only when their MAC checks. */
  verpAddresses: string[];
  /** Message-IDs the report quotes; ours are trusted only when the ledger shows that exact copy was sent to that reader. */
  messageIds: string[];
}

export interface BounceEvent {
  /** Stable across redeliveries of the same event: `<source>:<provider id>:<recipient>`. */
  id: string;
  source: BounceSource;
  kind: BounceEventKind;
  /** The recipient the report names. */
  email: string;
  hints: AttributionHints;
  status?: string;
  replyCode?: number;
  diagnostic?: string;
  /** Bounce reason (see reason.ts) or the provider's own word for it. */
  reason?: string;
  /** A rejection of us, not the reader (blocklist, reputation, authentication): counted by the breaker. */
  senderFault?: boolean;
  /** ARF Feedback-Type for complaints (abuse, fraud, opt-out, ...). */
  feedbackType?: string;
  at: Date;
}

/** Whom an event is about, as attribution found it. */
export interface Attributed {
  /** The address the event is about (the reader's own when the reader is known). */
  email: string;
  subscriberId?: string;
  editionId?: string;
  attribution: Attribution;
}

/** What applying an event did: stored in the bounce log as it happened, counted by reports. */
export type BounceAction =
  | { type: 'counted'; flags: string }
  | { type: 'suppressed'; reason: string }
  | { type: 'already-suppressed' }
  | { type: 'soft-counted'; count: number; limit: number }
  | { type: 'unsubscribed'; reason: string }
  | { type: 'not-subscribed' }
  | { type: 'delay-logged' }
  | { type: 'ignored'; reason: string }
  | { type: 'paused-edition'; reason: string };

/** The actions in words, for people (`daybreak bounces`, logs). */
export function describeActions(actions: readonly BounceAction[]): string {
  const words = actions.flatMap((a): string[] => {
    switch (a.type) {
      case 'counted': return [];
      case 'suppressed': return ['suppressed'];
      case 'already-suppressed': return ['already suppressed'];
      case 'soft-counted': return [`soft ${a.count}/${a.limit}`];
      case 'unsubscribed': return ['unsubscribed'];
      case 'not-subscribed': return ['not subscribed'];
      case 'delay-logged': return ['logged (delivery still being retried)'];
      case 'ignored': return [`ignored: ${a.reason}`];
      case 'paused-edition': return ['paused the edition'];
    }
  });
  return words.join(', ') || 'counted';
}

/** One line of the bounce log (what `daybreak bounces` reports). */
export interface BounceLogEntry extends Attributed {
  id: string;
  at: string;
  source: BounceSource;
  kind: BounceEventKind;
  status?: string;
  replyCode?: number;
  reason?: string;
  diagnostic?: string;
  feedbackType?: string;
  /** What applying the event did, structured. */
  actions: BounceAction[];
  /** The same in words (kept with the entry, so old entries read the same). */
  action: string;
}

/** What recording an event did, for logs, webhook replies and tests. */
export interface RecordOutcome extends Attributed {
  eventId: string;
  duplicate: boolean;
  kind: BounceEventKind;
  /** The address was added to the suppression list by this event. */
  suppressed: boolean;
  /** The reader was unsubscribed by this event. */
  unsubscribed: boolean;
  /** Soft bounces of the address within the window, this one included. */
  softCount?: number;
  /** Why the event changed nothing (a DSN tied to no copy we sent). */
  ignored?: string;
  /** This event tripped the circuit breaker and paused the edition. */
  paused?: string;
  actions: BounceAction[];
}
