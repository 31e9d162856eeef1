/**
 * One bounce, complaint or delay, however it arrived (SMTP reply at send time, a DSN to the VERP
 * mailbox, an ESP webhook), in the one shape the policy applies. Every way in produces these.
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
export type Attribution = 'send' | 'verp' | 'message-id' | 'metadata' | 'recent-send' | 'address' | 'none';

export interface BounceEvent {
  /** Stable across redeliveries of the same event: `<source>:<provider id>:<recipient>`. */
  id: string;
  source: BounceSource;
  kind: BounceEventKind;
  /** The recipient the report names. */
  email: string;
  editionId?: string;
  subscriberId?: string;
  attribution?: Attribution;
  /** Our Message-ID of the copy, when the report carries it (checked against the ledger). */
  messageId?: string;
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

/** What recording an event did, for logs, webhook replies and tests. */
export interface RecordOutcome {
  eventId: string;
  duplicate: boolean;
  kind: BounceEventKind;
  email: string;
  subscriberId?: string;
  editionId?: string;
  attribution: Attribution;
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
}
